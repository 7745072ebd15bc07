//! What the in-process API tests share: the router over a real data folder
//! and the real sync engine, driven with `tower`'s `oneshot`.

// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use papi_server::{app, AppState, Config};
use serde_json::Value;
use tower::ServiceExt;

pub struct Api {
    pub router: Router,
    pub state: AppState,
    /// The data folder, removed with the `Api`.
    pub dir: tempfile::TempDir,
}

impl Api {
    /// Opens `config` (whose data folder lies in `dir`) and serves it to
    /// requests that seem to come from one client address.
    pub async fn open(config: &Config, dir: tempfile::TempDir) -> Api {
        let state = AppState::open(config).await.unwrap();
        let router =
            app(state.clone()).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 7], 4000))));
        Api { router, state, dir }
    }

    /// Sends a request with a body of `content_type`; the answer's status
    /// and body (JSON, or a string).
    pub async fn send_as(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: impl Into<Body>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }
}
