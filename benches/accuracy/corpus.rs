//! The labeled corpus: documents shaped like LLM-agent traffic (`.env` and
//! YAML config, Python/JavaScript/Go source, JSON tool output, shell and CI
//! logs, chat, stack traces) with planted positives and hard negatives.
//!
//! Invariants: the corpus is a pure function of the seed and the document
//! count; every label's `start..end` is exactly the bytes written for its
//! value (escaped as its context requires), and every hard negative's span
//! is recorded too (it carries no label). Filler text holds no value of any
//! labeled type.

use std::fmt::Write as _;

use super::formats::{self, Category, Shape, TypeSpec, TYPES};
use crate::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    Env,
    Yaml,
    Python,
    JavaScript,
    Go,
    Json,
    ShellLog,
    CiLog,
    Chat,
    Trace,
    /// HTTP requests as a proxy or `curl -v` shows them: values
    /// percent-encoded in query strings, form bodies and cookies, or the
    /// base64 of `user:value` after `Authorization: Basic`.
    Http,
    /// Tool results whose content is a file or JSON document carried as a
    /// JSON string: the value is JSON-escaped once or twice, `/` perhaps
    /// as `\/`.
    NestedJson,
    /// A Kubernetes `Secret` manifest: each value base64-encoded under
    /// `data:`.
    K8sSecret,
}

impl DocKind {
    /// The carriers that write a value as their own syntax does, with no
    /// further encoding.
    pub const UNENCODED: [DocKind; 10] = [
        DocKind::Env,
        DocKind::Yaml,
        DocKind::Python,
        DocKind::JavaScript,
        DocKind::Go,
        DocKind::Json,
        DocKind::ShellLog,
        DocKind::CiLog,
        DocKind::Chat,
        DocKind::Trace,
    ];

    pub const ALL: [DocKind; 13] = [
        DocKind::Env,
        DocKind::Yaml,
        DocKind::Python,
        DocKind::JavaScript,
        DocKind::Go,
        DocKind::Json,
        DocKind::ShellLog,
        DocKind::CiLog,
        DocKind::Chat,
        DocKind::Trace,
        DocKind::Http,
        DocKind::NestedJson,
        DocKind::K8sSecret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DocKind::Env => "env",
            DocKind::Yaml => "config",
            DocKind::Python => "source-py",
            DocKind::JavaScript => "source-js",
            DocKind::Go => "source-go",
            DocKind::Json => "tool-output",
            DocKind::ShellLog => "shell",
            DocKind::CiLog => "ci",
            DocKind::Chat => "chat",
            DocKind::Trace => "trace",
            DocKind::Http => "http",
            DocKind::NestedJson => "tool-json-in-json",
            DocKind::K8sSecret => "k8s-secret",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            DocKind::Env => "env",
            DocKind::Yaml => "yaml",
            DocKind::Python => "py",
            DocKind::JavaScript => "js",
            DocKind::Go => "go",
            DocKind::Json => "json",
            DocKind::ShellLog | DocKind::CiLog => "log",
            DocKind::Http => "http",
            DocKind::NestedJson => "jsonl",
            DocKind::K8sSecret => "yaml",
            DocKind::Chat => "md",
            DocKind::Trace => "txt",
        }
    }
}

/// A planted positive: the rule named `kind` (or one of `also`) should
/// report these bytes.
#[derive(Clone, Debug)]
pub struct Label {
    /// How the carrier encoded the value (undo it to get the value).
    pub written: Written,
    pub start: usize,
    pub end: usize,
    pub kind: &'static str,
    pub also: &'static [&'static str],
    pub category: Category,
}

/// The encoding a carrier put on a value, beyond the quoting and
/// escaping of its own syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// As the carrier's syntax writes it.
    Plain,
    /// Percent-encoded (RFC 3986).
    Percent,
    /// Base64 of the value.
    Base64,
    /// Base64 of `user:value`.
    BasicAuth,
    /// JSON-escaped this many times over the carrier's own writing.
    Json(u8),
}

/// A planted hard negative: nothing should report these bytes.
#[derive(Clone, Debug)]
pub struct Negative {
    pub written: Written,
    pub start: usize,
    pub end: usize,
    pub kind: &'static str,
}

pub struct Document {
    pub name: String,
    pub kind: DocKind,
    pub text: String,
    pub labels: Vec<Label>,
    pub negatives: Vec<Negative>,
}

impl Document {
    /// The 1-based line of byte `at`.
    pub fn line_of(&self, at: usize) -> usize {
        1 + self.text.as_bytes()[..at.min(self.text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }
}

pub struct Corpus {
    pub documents: Vec<Document>,
}

impl Corpus {
    pub fn bytes(&self) -> usize {
        self.documents.iter().map(|d| d.text.len()).sum()
    }

    pub fn labels(&self) -> usize {
        self.documents.iter().map(|d| d.labels.len()).sum()
    }

    pub fn negatives(&self) -> usize {
        self.documents.iter().map(|d| d.negatives.len()).sum()
    }
}

/// `documents` documents; each type is planted about equally often (a
/// shuffled deck of all types is dealt in turn).
pub fn generate(seed: u64, documents: usize) -> Corpus {
    generate_in(seed, documents, &DocKind::ALL)
}

/// [`generate`] as it is scored: a value written in base64 (a Kubernetes
/// Secret, a Basic header) may be named by the rule of its container
/// ([`super::score::CONTAINERS`]), as in the independent corpus.
pub fn generate_scored(seed: u64, documents: usize) -> Corpus {
    let mut corpus = generate(seed, documents);
    let carried: Vec<Vec<bool>> = corpus
        .documents
        .iter()
        .map(|doc| {
            doc.labels
                .iter()
                .map(|label| matches!(label.written, Written::Base64 | Written::BasicAuth))
                .collect()
        })
        .collect();
    super::score::credit_containers(&mut corpus, &carried);
    corpus
}

/// [`generate`] with the documents dealt among `kinds` only.
pub fn generate_in(seed: u64, documents: usize, kinds: &[DocKind]) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut deck: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(documents);
    for index in 0..documents {
        let kind = kinds[index % kinds.len()];
        let plants = 3 + rng.below(5);
        let negatives = 2 + rng.below(5);
        let mut types = Vec::with_capacity(plants);
        for _ in 0..plants {
            if deck.is_empty() {
                deck = (0..TYPES.len()).collect();
                for i in (1..deck.len()).rev() {
                    deck.swap(i, rng.below(i + 1));
                }
            }
            types.push(deck.pop().expect("refilled"));
        }
        let mut doc = Builder::new(kind);
        doc.header(&mut rng);
        let mut planted = 0;
        let mut negative = 0;
        while planted < plants || negative < negatives {
            let lines = 1 + rng.below(8);
            doc.filler(&mut rng, lines);
            let plant_next = negative >= negatives
                || (planted < plants && rng.below(plants + negatives) < plants);
            if plant_next {
                doc.plant(&mut rng, &TYPES[types[planted]]);
                planted += 1;
            } else {
                doc.negative(&mut rng);
                negative += 1;
            }
        }
        let lines = 1 + rng.below(6);
        doc.filler(&mut rng, lines);
        doc.footer();
        out.push(Document {
            name: format!("{index:05}-{}.{}", kind.name(), kind.extension()),
            kind,
            text: doc.text,
            labels: doc.labels,
            negatives: doc.negatives,
        });
    }
    Corpus { documents: out }
}

#[derive(Clone, Copy)]
enum Mark {
    Label(&'static TypeSpec),
    Negative(&'static str),
}

/// How a value is written where it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    /// On one line: a block's newlines become `\n`, a JSON object is
    /// compacted.
    Line,
    /// On one line inside double quotes: `\` and `"` escaped too.
    Quoted,
}

fn written(value: &str, shape: Shape, how: Write) -> String {
    match how {
        Write::Line => one_line(value, shape),
        Write::Quoted => {
            let line = match shape {
                Shape::JsonObject => one_line(value, shape),
                _ => value.to_string(),
            };
            line.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        }
    }
}

fn one_line(value: &str, shape: Shape) -> String {
    match shape {
        Shape::JsonObject => value
            .lines()
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join(""),
        _ => value.replace('\n', "\\n"),
    }
}

fn lower_snake(key: &str) -> String {
    key.to_ascii_lowercase()
}

fn camel(key: &str) -> String {
    let mut out = String::new();
    for (i, part) in key.split('_').enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

struct Builder {
    kind: DocKind,
    text: String,
    labels: Vec<Label>,
    negatives: Vec<Negative>,
    /// How the next value `put` is encoded (back to plain after it).
    written: Written,
}

impl Builder {
    fn new(kind: DocKind) -> Builder {
        Builder {
            kind,
            text: String::with_capacity(8 * 1024),
            labels: Vec::new(),
            negatives: Vec::new(),
            written: Written::Plain,
        }
    }

    /// Appends `before`, the value (recorded under `mark`), `after`.
    fn put(&mut self, before: &str, value: &str, after: &str, mark: Mark) {
        self.text.push_str(before);
        let start = self.text.len();
        self.text.push_str(value);
        let end = self.text.len();
        self.text.push_str(after);
        match mark {
            Mark::Label(spec) => {
                self.labels.push(Label {
                    written: self.written,
                    start,
                    end,
                    kind: spec.name,
                    also: spec.also,
                    category: spec.category,
                });
                // A key file names its account by an email address; it is
                // labeled too, so that an email finding there is not
                // counted as a false positive.
                if spec.name == "gcp-service-account" {
                    self.label_inner_email(start, end);
                }
            }
            Mark::Negative(kind) => self.negatives.push(Negative {
                written: self.written,
                start,
                end,
                kind,
            }),
        }
        self.written = Written::Plain;
    }

    fn label_inner_email(&mut self, start: usize, end: usize) {
        const DOMAIN: &str = ".iam.gserviceaccount.com";
        let value = &self.text[start..end];
        let (Some(at), Some(email)) = (value.find(DOMAIN), formats::type_spec("email")) else {
            return;
        };
        // Where the address's string starts: after its quote, however the
        // carrier wrote the quote. In base64 nothing is findable alone.
        let from = match self.written {
            Written::Base64 | Written::BasicAuth => return,
            Written::Percent => value[..at].rfind("%22").map_or(0, |q| q + 3),
            Written::Plain | Written::Json(_) => value[..at].rfind('"').map_or(0, |q| q + 1),
        };
        self.labels.push(Label {
            written: self.written,
            start: start + from,
            end: start + at + DOMAIN.len(),
            kind: email.name,
            also: email.also,
            category: email.category,
        });
    }

    fn plant(&mut self, rng: &mut Rng, spec: &'static TypeSpec) {
        let value = (spec.generate)(rng);
        let key = rng.pick(spec.keys);
        // Values recognizable on their own are also written bare (prose,
        // a log line, a function argument) about a third of the time.
        let bare = !spec.needs_key && rng.below(3) == 0;
        if spec.name == "generic-secret-assignment"
            && DocKind::UNENCODED.contains(&self.kind)
            && rng.below(3) == 0
        {
            self.fixture_shape(rng, key, &value, spec);
            return;
        }
        self.place(rng, key, &value, spec.shape, bare, Mark::Label(spec));
    }

    /// A keyed value written in one of the shapes that public scanners'
    /// fixtures test (gitleaks' generic-api-key samples, detect-secrets'
    /// keyword cases) or that people write in prose and error text, in any
    /// plain carrier: they are how code and chat outside this generator's
    /// own carriers hold a secret.
    fn fixture_shape(&mut self, rng: &mut Rng, key: &str, value: &str, spec: &'static TypeSpec) {
        let upper = key;
        let snake = lower_snake(key);
        let camel = camel(key);
        let element = ["PASSWORD", "SECRET", "TOKEN", "API_KEY"]
            .iter()
            .any(|end| upper.ends_with(end));
        let (before, after) = match rng.below(if element { 15 } else { 14 }) {
            0 => (format!("var {camel} string = \""), "\"\n".to_string()),
            1 => (format!("val {camel}: String = \""), "\"\n".into()),
            2 => (format!("${camel} ??= \""), "\";\n".into()),
            3 => (format!("{upper} ?= "), "\n".into()),
            4 => (format!("if ({snake} == \""), "\") {\n".into()),
            5 => (format!("{snake}: |\n  "), "\n".into()),
            6 => (format!("<add key=\"{camel}\" value=\""), "\" />\n".into()),
            7 => (format!("| `{upper}` | `"), "` |\n".into()),
            8 => (format!("string {camel} = \""), "\";\n".into()),
            9 => (
                format!("System.setProperty(\"{upper}\", \""),
                "\");\n".into(),
            ),
            10 => (format!("  \"{camel}\" => \""), "\",\n".into()),
            11 => (
                format!("environmentVariables = {{PATH=/usr/local/bin, {upper}="),
                ", LC_CTYPE=en_CA.UTF-8},\n".into(),
            ),
            12 => {
                let phrase = rng.pick(&["token", "secret", "password", "api key", "access token"]);
                (format!("The {phrase} is "), ", please rotate it.\n".into())
            }
            13 => (
                "HTTP 401 Unauthorized: token ".into(),
                " is expired or revoked\n".into(),
            ),
            _ => (format!("<{camel}>\n    "), format!("\n</{camel}>\n")),
        };
        self.put(&before, value, &after, Mark::Label(spec));
    }

    fn negative(&mut self, rng: &mut Rng) {
        let negative = formats::negative(rng);
        let shape = if negative.value.contains('\n') {
            Shape::Block
        } else {
            Shape::Token
        };
        let bare = rng.below(4) == 0;
        self.place(
            rng,
            negative.key,
            &negative.value,
            shape,
            bare,
            Mark::Negative(negative.kind),
        );
    }

    fn place(
        &mut self,
        rng: &mut Rng,
        key: &str,
        value: &str,
        shape: Shape,
        bare: bool,
        mark: Mark,
    ) {
        let multi = shape != Shape::Token;
        let prose: &[&str] = match mark {
            Mark::Label(spec) => spec.prose,
            Mark::Negative(_) => &["The value in question is {} (see the config)."],
        };
        let upper = key;
        let snake = lower_snake(key);
        let camel = camel(key);
        match self.kind {
            DocKind::Env => match (multi, rng.below(3)) {
                (true, 0) => self.put(
                    &format!("{upper}='"),
                    &written(value, shape, Write::Line),
                    "'\n",
                    mark,
                ),
                (true, _) => self.put(
                    &format!("{upper}=\""),
                    &written(value, shape, Write::Quoted),
                    "\"\n",
                    mark,
                ),
                (false, 0) => self.put(&format!("export {upper}="), value, "\n", mark),
                (false, 1) => self.put(
                    &format!("{upper}=\""),
                    &written(value, shape, Write::Quoted),
                    "\"\n",
                    mark,
                ),
                (false, _) => self.put(&format!("{upper}="), value, "\n", mark),
            },
            DocKind::Yaml => match (shape, rng.below(2)) {
                (Shape::Block, 0) => {
                    let indented = value.replace('\n', "\n    ");
                    self.put(&format!("  {snake}: |\n    "), &indented, "\n", mark);
                }
                (Shape::JsonObject, 0) => {
                    let indented = value.replace('\n', "\n    ");
                    self.put(&format!("  {snake}: |\n    "), &indented, "\n", mark);
                }
                (Shape::Token, 0) if bare => self.put("  - ", value, "\n", mark),
                (Shape::Token, 0) => self.put(&format!("  {snake}: "), value, "\n", mark),
                _ => self.put(
                    &format!("  {snake}: \""),
                    &written(value, shape, Write::Quoted),
                    "\"\n",
                    mark,
                ),
            },
            DocKind::Python => match (shape, rng.below(3)) {
                (Shape::Block, _) => {
                    self.put(&format!("{upper} = \"\"\""), value, "\"\"\"\n", mark)
                }
                (Shape::JsonObject, 0) => self.put(&format!("{snake} = "), value, "\n", mark),
                (Shape::JsonObject, _) => self.put(
                    &format!("{snake} = json.loads('"),
                    &written(value, shape, Write::Line),
                    "')\n",
                    mark,
                ),
                (Shape::Token, 0) if bare => {
                    self.put("    client = Client(\"", value, "\")\n", mark)
                }
                (Shape::Token, 0) => self.put(
                    &format!("os.environ.setdefault(\"{upper}\", \""),
                    value,
                    "\")\n",
                    mark,
                ),
                _ => self.put(&format!("{snake} = \""), value, "\"\n", mark),
            },
            DocKind::JavaScript => match (multi, rng.below(3)) {
                (true, 0) => self.put(&format!("const {camel} = `"), value, "`;\n", mark),
                (true, _) => self.put(
                    &format!("const {camel} = '"),
                    &written(value, shape, Write::Line),
                    "';\n",
                    mark,
                ),
                (false, 0) if bare => self.put(
                    "  headers: { Authorization: `Bearer ",
                    value,
                    "` },\n",
                    mark,
                ),
                (false, 0) => self.put(&format!("  {camel}: '"), value, "',\n", mark),
                (false, _) => self.put(
                    &format!("const {camel} = process.env.{upper} ?? \""),
                    value,
                    "\";\n",
                    mark,
                ),
            },
            DocKind::Go => match (multi, rng.below(2)) {
                (true, _) => self.put(&format!("\t{camel} := `"), value, "`\n", mark),
                (false, 0) if bare => self.put(
                    "\treq.Header.Set(\"Authorization\", \"Bearer ",
                    value,
                    "\")\n",
                    mark,
                ),
                (false, _) => self.put(&format!("\t{camel} := \""), value, "\"\n", mark),
            },
            DocKind::Json => match shape {
                Shape::JsonObject => {
                    let indented = value.replace('\n', "\n    ");
                    self.put(&format!("    \"{snake}\": "), &indented, ",\n", mark);
                }
                _ if bare => self.put(
                    "    \"output\": \"",
                    &written(value, shape, Write::Quoted),
                    "\",\n",
                    mark,
                ),
                _ => self.put(
                    &format!("    \"{snake}\": \""),
                    &written(value, shape, Write::Quoted),
                    "\",\n",
                    mark,
                ),
            },
            DocKind::ShellLog => match (multi, rng.below(3)) {
                (true, _) => self.put(
                    &format!(
                        "$ cat {}\n",
                        rng.pick(&["~/.ssh/id_rsa", "key.pem", "creds.json", "./secrets/key"])
                    ),
                    value,
                    "\n",
                    mark,
                ),
                (false, 0) if bare => self.put(
                    "$ curl -sS -H \"Authorization: Bearer ",
                    value,
                    "\" https://api.internal/v1/status\n",
                    mark,
                ),
                (false, 0) => self.put(&format!("$ export {upper}="), value, "\n", mark),
                // `aws configure` re-run over a stored key, or the
                // console's credentials CSV (key id labeled too).
                (false, 2) if matches!(mark, Mark::Label(s) if s.name == "aws-secret-access-key") =>
                {
                    let id_spec = formats::type_spec("aws-access-key-id").expect("a type");
                    if rng.below(2) == 0 {
                        let id = (id_spec.generate)(rng);
                        self.put(
                            "$ cat ci-bot_accessKeys.csv\nAccess key ID,Secret access key\n",
                            &id,
                            ",",
                            Mark::Label(id_spec),
                        );
                        self.put("", value, "\n", mark);
                    } else {
                        self.put(
                            &format!(
                                "$ aws configure\nAWS Access Key ID [****************{}]: \nAWS Secret Access Key [None]: ",
                                rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 4)
                            ),
                            value,
                            "\nDefault region name [None]: eu-west-1\n",
                            mark,
                        );
                    }
                }
                // A token in a remote's user info, as CI checkouts write it.
                (false, 1)
                    if bare && matches!(mark, Mark::Label(s) if s.category == Category::Secret) =>
                {
                    self.put(
                        "$ git remote -v\norigin\thttps://x-access-token:",
                        value,
                        "@github.com/acme/app.git (fetch)\n",
                        mark,
                    )
                }
                (false, 1) => self.put(
                    &format!("$ env | grep {}\n{upper}=", &upper[..upper.len().min(4)]),
                    value,
                    "\n",
                    mark,
                ),
                (false, _) => self.put(&format!("$ echo ${upper}\n"), value, "\n", mark),
            },
            DocKind::CiLog => match (multi, rng.below(3)) {
                (true, _) => self.put("+ echo \"$KEY_MATERIAL\"\n", value, "\n", mark),
                (false, 0) => self.put(
                    &format!("##[debug]Evaluating: env.{upper}\n##[debug]Result: '"),
                    value,
                    "'\n",
                    mark,
                ),
                (false, 1) if bare => self.put("[step 4/9] using credential ", value, "\n", mark),
                (false, _) => self.put(&format!("+ {upper}="), value, "\n", mark),
            },
            DocKind::Chat => match (multi, rng.below(3)) {
                (true, _) => self.put("Here is the file:\n\n```\n", value, "\n```\n\n", mark),
                (false, 0) => self.put(
                    &format!("I set `{upper}="),
                    value,
                    "` in my .env but it is not picked up.\n",
                    mark,
                ),
                (false, _)
                    if bare || matches!(mark, Mark::Label(s) if s.category == Category::Pii) =>
                {
                    let template = rng.pick(prose);
                    let (before, after) = template.split_once("{}").expect("prose has {}");
                    self.put(before, value, &format!("{after}\n"), mark);
                }
                (false, _) => self.put(&format!("`{upper}` is "), value, " on staging.\n", mark),
            },
            DocKind::Trace => match (multi, rng.below(3)) {
                (true, _) => self.put(
                    "ssl.SSLError: [SSL] PEM lib: could not load key material:\n",
                    value,
                    "\n",
                    mark,
                ),
                (false, 0) => self.put(
                    &format!(
                        "  File \"/srv/app/settings.py\", line {}, in <module>\n    {snake} = \"",
                        10 + rng.below(200)
                    ),
                    value,
                    "\"\n",
                    mark,
                ),
                (false, 1) => self.put(
                    &format!("ValueError: invalid {snake}: '"),
                    value,
                    "'\n",
                    mark,
                ),
                (false, _) => self.put(
                    &format!("    at Object.<anonymous> (/app/config.js:12:7) {{ {camel}: '"),
                    value,
                    "' }\n",
                    mark,
                ),
            },
            DocKind::Http => {
                let secret = matches!(mark, Mark::Label(s) if s.category == Category::Secret);
                match (multi, rng.below(4)) {
                    (false, 0) if secret => {
                        let user = rng.pick(&["admin", "deploy", "ci-bot", "api"]);
                        self.written = Written::BasicAuth;
                        self.put(
                            "Authorization: Basic ",
                            &formats::base64(format!("{user}:{value}").as_bytes()),
                            "\r\n",
                            mark,
                        );
                    }
                    (false, 1) => {
                        self.written = Written::Percent;
                        self.put(
                            &format!(
                                "GET /v2/{}?page=2&{snake}=",
                                rng.pick(&["export", "items", "sync", "callback"])
                            ),
                            &percent_encoded(value),
                            " HTTP/1.1\r\n",
                            mark,
                        )
                    }
                    (false, 2) => {
                        self.written = Written::Percent;
                        self.put(
                            &format!("Cookie: theme=dark; {snake}="),
                            &percent_encoded(value),
                            "; lang=en\r\n",
                            mark,
                        )
                    }
                    _ => {
                        self.written = Written::Percent;
                        self.put(
                            &format!("\r\n{snake}="),
                            &percent_encoded(value),
                            "&grant_type=client_credentials&scope=read\r\n",
                            mark,
                        )
                    }
                }
            }
            DocKind::NestedJson => {
                let id = rng.string_from(
                    b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789",
                    24,
                );
                let open = format!(
                    "{{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01{id}\",\"content\":\""
                );
                self.written = Written::Json(1);
                match rng.below(3) {
                    // A `.env` file read by a tool: escaped once.
                    0 => self.put(
                        &format!("{open}# .env\\n{upper}="),
                        &json_escaped(&one_line(value, shape)),
                        "\\nLOG_LEVEL=info\\n\"}\n",
                        mark,
                    ),
                    // A JSON document as a string: escaped twice.
                    1 => {
                        self.written = Written::Json(2);
                        self.put(
                            &format!("{open}{{\\\"{snake}\\\": \\\""),
                            &json_escaped(&json_escaped(value)),
                            "\\\", \\\"region\\\": \\\"eu-west-1\\\"}\"}\n",
                            mark,
                        )
                    }
                    // An encoder that escapes `/` (PHP, some loggers).
                    _ => self.put(
                        &format!("{open}{snake}: "),
                        &json_escaped(value).replace('/', "\\/"),
                        "\\n\"}\n",
                        mark,
                    ),
                }
            }
            // A value under `data:` is a credential slot, whatever it
            // decodes to (as after `Bearer` or `password =`): a hard
            // negative there would be a credential, so near misses go in
            // a comment, as a manifest's author leaves them.
            DocKind::K8sSecret if matches!(mark, Mark::Negative(_)) => self.put(
                &format!("  # {snake}: "),
                &one_line(value, shape),
                "\n",
                mark,
            ),
            DocKind::K8sSecret => {
                self.written = Written::Base64;
                self.put(
                    &format!("  {snake}: "),
                    &formats::base64(value.as_bytes()),
                    "\n",
                    mark,
                )
            }
        }
    }

    fn header(&mut self, rng: &mut Rng) {
        let header = match self.kind {
            DocKind::Env => "# generated by `make env` — do not commit\n".to_string(),
            DocKind::Yaml => format!(
                "service: {}\nenvironment: {}\nsettings:\n",
                rng.pick(SERVICES),
                rng.pick(&["production", "staging", "dev"])
            ),
            DocKind::Python => "import json\nimport os\n\nfrom app.client import Client\n\n".into(),
            DocKind::JavaScript => "'use strict';\nconst config = {\n".into(),
            DocKind::Go => {
                "package config\n\nimport \"net/http\"\n\nfunc setup(req *http.Request) {\n".into()
            }
            DocKind::Json => format!(
                "{{\n  \"tool\": \"{}\",\n  \"result\": {{\n",
                rng.pick(&["read_file", "bash", "http_get", "search", "kubectl"])
            ),
            DocKind::ShellLog => {
                "$ cd ~/src/app && ls\nCargo.toml  README.md  src  target\n".into()
            }
            DocKind::CiLog => format!(
                "##[group]Run actions/checkout@v4\nSyncing repository: {}/{}\n##[endgroup]\n",
                rng.pick(&["acme", "octo-org"]),
                rng.pick(SERVICES)
            ),
            DocKind::Chat => "**user:** I need help with our deployment, details below.\n\n".into(),
            DocKind::Trace => "Traceback (most recent call last):\n".into(),
            DocKind::Http => format!(
                "POST /oauth/token HTTP/1.1\r\nHost: {}.acme-corp.io\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                rng.pick(SERVICES)
            ),
            DocKind::NestedJson => {
                "{\"type\":\"text\",\"text\":\"I'll read the configuration files.\"}\n".into()
            }
            DocKind::K8sSecret => format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}-credentials\n  namespace: prod\ntype: Opaque\ndata:\n",
                rng.pick(SERVICES)
            ),
        };
        self.text.push_str(&header);
    }

    fn footer(&mut self) {
        let footer = match self.kind {
            DocKind::JavaScript => "};\nmodule.exports = config;\n",
            DocKind::Go => "}\n",
            DocKind::Json => "    \"done\": true\n  }\n}\n",
            DocKind::Chat => "\n**assistant:** Thanks — I will take a look.\n",
            _ => "",
        };
        self.text.push_str(footer);
    }

    fn filler(&mut self, rng: &mut Rng, lines: usize) {
        for _ in 0..lines {
            let line = match self.kind {
                DocKind::Env => format!(
                    "{}={}",
                    rng.pick(ENV_KEYS),
                    rng.pick(&[
                        "true",
                        "false",
                        "info",
                        "8080",
                        "eu-west-1",
                        "30s",
                        "/var/lib/app",
                        "3"
                    ])
                ),
                DocKind::Yaml => format!(
                    "  {}: {}",
                    rng.pick(ENV_KEYS).to_ascii_lowercase(),
                    rng.pick(&["true", "500", "\"us-east-1\"", "[a, b]", "~", "debug"])
                ),
                DocKind::Python => rng.pick(PY_LINES).to_string(),
                DocKind::JavaScript => rng.pick(JS_LINES).to_string(),
                DocKind::Go => rng.pick(GO_LINES).to_string(),
                DocKind::Json => format!(
                    "    \"{}\": {},",
                    rng.pick(&["count", "status", "path", "elapsed_ms", "items", "page"]),
                    rng.pick(&[
                        "42",
                        "\"ok\"",
                        "\"src/main.rs\"",
                        "1234",
                        "[]",
                        "null",
                        "{\"next\": null}"
                    ])
                ),
                DocKind::ShellLog => rng.pick(SHELL_LINES).to_string(),
                DocKind::CiLog => format!(
                    "2026-11-{:02}T{:02}:{:02}:{:02}.{:07}Z {}",
                    1 + rng.below(28),
                    rng.below(24),
                    rng.below(60),
                    rng.below(60),
                    rng.below(10_000_000),
                    rng.pick(CI_LINES)
                ),
                DocKind::Chat => sentence(rng),
                DocKind::Trace => format!(
                    "  File \"/srv/app/{}\", line {}, in {}\n    {}",
                    rng.pick(&["app/views.py", "app/client.py", "lib/retry.py", "worker.py"]),
                    1 + rng.below(400),
                    rng.pick(&["handle", "run", "connect", "_request", "wrapper"]),
                    rng.pick(PY_LINES).trim()
                ),
                DocKind::Http => rng.pick(HTTP_LINES).to_string(),
                DocKind::NestedJson => format!(
                    "{{\"type\":\"tool_result\",\"content\":\"{}\"}}",
                    json_escaped(rng.pick(SHELL_LINES))
                ),
                DocKind::K8sSecret => format!(
                    "  {}: {}",
                    rng.pick(ENV_KEYS).to_ascii_lowercase(),
                    formats::base64(
                        rng.pick(&["true", "8080", "info", "eu-west-1", "/var/lib/app", "30s"])
                            .as_bytes()
                    )
                ),
            };
            let _ = writeln!(self.text, "{line}");
        }
    }
}

const HTTP_LINES: &[&str] = &[
    "Accept: application/json\r",
    "User-Agent: python-requests/2.32.3\r",
    "Accept-Encoding: gzip, deflate\r",
    "Connection: keep-alive\r",
    "HTTP/1.1 200 OK\r",
    "Content-Type: application/json; charset=utf-8\r",
    "Cache-Control: no-store\r",
    "X-RateLimit-Remaining: 4999\r",
];

/// Every byte but the unreserved ones (RFC 3986) as `%XX`.
fn percent_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The value as the inside of a JSON string.
fn json_escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

const SERVICES: &[&str] = &["billing", "gateway", "search", "ingest", "web", "auth"];

const ENV_KEYS: &[&str] = &[
    "LOG_LEVEL",
    "PORT",
    "FEATURE_NEW_CHECKOUT",
    "AWS_REGION",
    "CACHE_TTL",
    "DATA_DIR",
    "WORKERS",
    "NODE_ENV",
    "RUST_BACKTRACE",
    "TIMEOUT",
];

const PY_LINES: &[&str] = &[
    "def fetch(session, url, retries=3):",
    "    response = session.get(url, timeout=30)",
    "    response.raise_for_status()",
    "    return [row[\"id\"] for row in rows if row.get(\"active\")]",
    "logger = logging.getLogger(__name__)",
    "    for attempt in range(retries):",
    "class Settings(BaseSettings):",
    "    model_config = SettingsConfigDict(env_file=\".env\")",
    "# TODO(#57): drop the legacy branch once every tenant migrated",
    "    await asyncio.sleep(2 ** attempt)",
];

const JS_LINES: &[&str] = &[
    "  retries: 3,",
    "  baseURL: process.env.API_URL,",
    "  timeout: 30_000,",
    "  onError: (err) => logger.warn({ err }, 'request failed'),",
    "  // keep in sync with the backend's page size",
    "  pageSize: 50,",
    "  features: ['search', 'export'],",
];

const GO_LINES: &[&str] = &[
    "\tctx, cancel := context.WithTimeout(ctx, 30*time.Second)",
    "\tdefer cancel()",
    "\tif err != nil {\n\t\treturn fmt.Errorf(\"setup: %w\", err)\n\t}",
    "\treq.Header.Set(\"Content-Type\", \"application/json\")",
    "\tclient := &http.Client{Timeout: 10 * time.Second}",
    "\t// Retry on 429 and 5xx only; everything else is final.",
];

const SHELL_LINES: &[&str] = &[
    "$ git status --short",
    " M src/lib.rs",
    "$ cargo build --release",
    "   Compiling app v0.3.1 (/home/dev/src/app)",
    "    Finished `release` profile [optimized] target(s) in 41.27s",
    "$ kubectl get pods -n prod",
    "NAME                        READY   STATUS    RESTARTS   AGE",
    "api-7d9f8b6c5d-x2k4q        1/1     Running   0          3d4h",
    "$ docker ps --format '{{.Names}}'",
    "total 48",
    "drwxr-xr-x  5 dev dev 4096 Nov 22 09:14 .",
];

const CI_LINES: &[&str] = &[
    "Run cargo test --workspace",
    "test result: ok. 128 passed; 0 failed; 0 ignored",
    "Downloading crates ...",
    "##[warning]Node.js 16 actions are deprecated.",
    "Uploading artifact: coverage.xml (118 KB)",
    "Post job cleanup.",
    "Restored cache from key: linux-cargo-3f2a",
];

const WORDS: &[&str] = &[
    "the",
    "deploy",
    "fails",
    "after",
    "we",
    "rotated",
    "config",
    "staging",
    "works",
    "but",
    "production",
    "does",
    "not",
    "retry",
    "logs",
    "show",
    "timeout",
    "on",
    "every",
    "request",
    "can",
    "you",
    "check",
    "why",
    "service",
    "keeps",
    "restarting",
    "cluster",
    "migration",
    "yesterday",
    "and",
    "then",
    "it",
    "broke",
    "again",
    "with",
    "same",
    "error",
];

fn sentence(rng: &mut Rng) -> String {
    let len = 6 + rng.below(12);
    let mut out = String::new();
    crate::push_words(rng, WORDS, len, &mut out);
    out.push('.');
    out
}
