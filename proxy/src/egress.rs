//! How the gateway reaches its upstream: straight, or through the
//! company's egress proxy by HTTP `CONNECT` (`HTTPS_PROXY` / `NO_PROXY`,
//! read as curl reads them). TLS to the upstream runs inside the tunnel, so
//! the egress proxy sees only the upstream's host name.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// An egress proxy the upstream is reached through.
#[derive(Clone, Debug)]
pub struct EgressProxy {
    /// `http://host:port` of the proxy.
    pub uri: Uri,
    /// `Proxy-Authorization` for it, from the URL's user info.
    pub auth: Option<HeaderValue>,
}

impl EgressProxy {
    /// The proxy the environment names for `upstream` (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, lower case too), unless `NO_PROXY`
    /// exempts its host.
    pub fn from_env(upstream: &Uri) -> Option<EgressProxy> {
        let intercept = Matcher::from_env().intercept(upstream)?;
        Some(EgressProxy {
            uri: intercept.uri().clone(),
            auth: intercept.basic_auth().cloned(),
        })
    }
}

/// The TCP connector under the upstream's TLS.
#[derive(Clone)]
pub(crate) enum Egress {
    Direct(HttpConnector),
    Tunnel(Tunnel<HttpConnector>),
}

impl Egress {
    pub(crate) fn new(http: HttpConnector, proxy: Option<&EgressProxy>) -> Egress {
        match proxy {
            None => Egress::Direct(http),
            Some(proxy) => {
                let tunnel = Tunnel::new(proxy.uri.clone(), http);
                Egress::Tunnel(match &proxy.auth {
                    Some(auth) => tunnel.with_auth(auth.clone()),
                    None => tunnel,
                })
            }
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<Uri> for Egress {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Egress::Direct(http) => http.poll_ready(cx).map_err(Into::into),
            Egress::Tunnel(tunnel) => tunnel.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self {
            Egress::Direct(http) => {
                let connecting = http.call(uri);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Egress::Tunnel(tunnel) => {
                let connecting = tunnel.call(uri);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}
