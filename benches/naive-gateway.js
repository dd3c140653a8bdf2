// The naive gateway the conversation bench compares rulegate with: read
// the whole request body, run one regular expression over it (a GitHub
// token), forward it to the upstream and stream the reply back. No JSON
// parsing, no scopes, no masking of replies: the least a regex gateway
// does. Plain Node, no packages.
//
// node naive-gateway.js http://127.0.0.1:PORT
// Listens on 127.0.0.1 on a free port and prints `listening PORT`.
'use strict';

const http = require('node:http');

const upstream = new URL(process.argv[2] || 'http://127.0.0.1:8081');
const agent = new http.Agent({ keepAlive: true });
const GITHUB_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b/g;
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding',
  'upgrade', 'te', 'trailer', 'host',
]);

const server = http.createServer({ noDelay: true }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    GITHUB_TOKEN.lastIndex = 0;
    if (GITHUB_TOKEN.test(text)) {
      GITHUB_TOKEN.lastIndex = 0;
      body = Buffer.from(text.replace(GITHUB_TOKEN, '[redacted]'), 'utf8');
    }
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['content-length'] = String(body.length);
    const out = http.request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    }, (reply) => {
      const replyHeaders = {};
      for (const [name, value] of Object.entries(reply.headers)) {
        if (!HOP_BY_HOP.has(name)) replyHeaders[name] = value;
      }
      res.writeHead(reply.statusCode, replyHeaders);
      reply.pipe(res);
    });
    out.setNoDelay(true);
    out.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    out.end(body);
  });
});

server.keepAliveTimeout = 90_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
