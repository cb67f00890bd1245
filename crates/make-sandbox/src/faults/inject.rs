//! The middleware in front of `/api/v2`: counts each request, adds latency, and answers
//! with the fault the script or the plan picked, in the shape the real failure has on the
//! wire.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::bodies::{Cut, Padding};
use super::{ConnKill, Fault, FaultState, RedirectSink};

/// What the middleware needs: the script, plan and counters, and the redirect target.
pub(crate) struct Faults {
    pub(crate) state: FaultState,
    pub(crate) sink: RedirectSink,
}

/// Largest endpoint answer [`Fault::Truncate`] reads before cutting it; the sandbox's
/// answers are a few KiB.
const TRUNCATE_READ_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) async fn inject(
    State(faults): State<Arc<Faults>>,
    req: Request,
    next: Next,
) -> Response {
    let decision = faults.state.decide(req.method(), req.uri().path());
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let Some(fault) = decision.fault else {
        return next.run(req).await;
    };
    tracing::info!(fault = fault.name(), method = %req.method(), path = %req.uri().path(), "sandbox fault injected");
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    match fault {
        Fault::TooManyRequests { retry_after } => {
            let mut resp = make_error(
                StatusCode::TOO_MANY_REQUESTS,
                "SC429",
                "Requests limit for organization exceeded, please try again later.",
            );
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Fault::InternalServerError => make_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SC500",
            "Internal Server Error",
        ),
        Fault::ServiceUnavailable => make_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SC503",
            "Service Unavailable",
        ),
        Fault::BadGateway => gateway_page(StatusCode::BAD_GATEWAY),
        Fault::GatewayTimeout => gateway_page(StatusCode::GATEWAY_TIMEOUT),
        Fault::Timeout { hold } => {
            // Only this request's task sleeps; the server keeps serving others.
            tokio::time::sleep(hold).await;
            gateway_page(StatusCode::GATEWAY_TIMEOUT)
        }
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(req).await
        }
        Fault::Drop => drop_connection(kill),
        Fault::Truncate => truncate(next.run(req).await, kill).await,
        Fault::NonJson => with_type(
            StatusCode::OK,
            "application/json",
            Body::from("Service temporarily unavailable, this is not JSON"),
        ),
        Fault::Oversize { bytes } => with_type(
            StatusCode::OK,
            "application/json",
            Body::new(Padding::new(bytes)),
        ),
        Fault::WrongContentType => with_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Body::from(
                "<!doctype html><html><head><title>Sign in</title></head>\
                 <body><h1>Sign in to continue</h1></body></html>",
            ),
        ),
        Fault::Redirect => {
            let target = req
                .extensions()
                .get::<OriginalUri>()
                .map_or(req.uri(), |o| &o.0)
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            let mut resp = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(location) = HeaderValue::from_str(&faults.sink.url_for(&target)) {
                resp.headers_mut().insert(header::LOCATION, location);
            }
            resp
        }
    }
}

/// Make's JSON error shape, which its API sends for errors it raises itself.
fn make_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"message": message, "code": code})),
    )
        .into_response()
}

/// The load balancer's HTML page: a 502 or 504 never comes from Make's API itself, so it
/// carries no JSON.
fn gateway_page(status: StatusCode) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    with_type(status, "text/html", Body::from(html))
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// Throws the connection's kill switch so hyper closes it before writing anything. Without
/// one (a router driven in-process) the body fails at once instead.
fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.kill();
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => Body::new(Cut::new(Default::default(), None)).into_response(),
    }
}

/// The endpoint's own answer, with a `Content-Length` for all of it but only the first half
/// sent. An empty answer still promises two bytes.
async fn truncate(resp: Response, kill: Option<ConnKill>) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = match to_bytes(body, TRUNCATE_READ_LIMIT).await {
        Ok(full) => full,
        Err(_) => return drop_connection(kill),
    };
    let declared = full.len().max(2);
    let sent = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    Response::from_parts(parts, Body::new(Cut::new(sent, kill)))
}
