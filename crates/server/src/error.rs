//! Every error leaves the server in OpenAI's error shape,
//! `{"error": {"message", "type", "param", "code"}}`, with LexDesk's stable code in `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lexdesk_core::ErrorCode;
use serde::Serialize;

/// An error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`INVALID_REQUEST`, `MATTER_NOT_FOUND`, …).
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// Seconds after which a retry may succeed (429, 503).
    pub retry_after: Option<u64>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// OpenAI's error object.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// For people.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault.
    pub param: Option<String>,
    /// LexDesk's stable code.
    pub code: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_string(), message: message.into(), param: None, retry_after: None }
    }

    /// 400 `INVALID_REQUEST` about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self { param: Some(param.to_string()), ..Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message) }
    }

    /// 401: no key or not a valid one.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_API_KEY", message)
    }

    /// With a `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// An error of the core; its HTTP status is its kind's ([`lexdesk_core::ErrorKind::http_status`]).
    pub fn from_core(e: &(impl ErrorCode + std::fmt::Display)) -> Self {
        let status = StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, e.code(), e.to_string())
    }

    fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::CONFLICT => "conflict_error",
            StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
            s if s.is_client_error() => "invalid_request_error",
            _ => "server_error",
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind().to_string(),
                param: self.param.clone(),
                code: self.code.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<lexdesk_desk::DeskError> for ApiError {
    fn from(e: lexdesk_desk::DeskError) -> Self {
        Self::from_core(&e)
    }
}

impl From<lexdesk_core::EngineError> for ApiError {
    fn from(e: lexdesk_core::EngineError) -> Self {
        Self::from_core(&e)
    }
}

/// Axum's own rejections (bad JSON, wrong content type, body too large) in the same shape.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        let status = r.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "BODY_TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            _ => "INVALID_JSON",
        };
        Self::new(status, code, r.body_text())
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> Self {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "BODY_TOO_LARGE" } else { "INVALID_MULTIPART" };
        Self::new(status, code, e.body_text())
    }
}

impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(r: axum::extract::multipart::MultipartRejection) -> Self {
        Self::new(r.status(), "INVALID_MULTIPART", r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_codes_map_to_statuses() {
        let e = ApiError::from(lexdesk_desk::DeskError::EmptyQuestion);
        assert_eq!(
            (e.status, e.code.as_str(), e.kind()),
            (StatusCode::BAD_REQUEST, "EMPTY_QUERY", "invalid_request_error")
        );
        let e = ApiError::from(lexdesk_desk::DeskError::DocumentNotFound("x".into()));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let r =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "slow down").retry_after(0).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn no_user_error_answers_5xx_and_no_server_fault_answers_4xx() {
        let codes = lexdesk_desk::error_codes()
            .into_iter()
            .chain(crate::KeyError::CODES.iter().map(|&(c, k)| (c, k, "KeyError")))
            .chain(crate::ServeError::CODES.iter().map(|&(c, k)| (c, k, "ServeError")));
        for (code, kind, ty) in codes {
            let status = StatusCode::from_u16(kind.http_status()).unwrap();
            // 499 (the client left) is nginx's client-side code, but no request was at fault
            let client_side = status.is_client_error() && kind != lexdesk_core::ErrorKind::Cancelled;
            assert_eq!(kind.is_user_error(), client_side, "{ty}::{code} ({kind:?}) answers {status}");
            assert!(status.is_client_error() || status.is_server_error(), "{code}");
        }
        // the drifted paths: an unknown template named in a request, a matter of another embedder
        let e = ApiError::from(lexdesk_desk::DeskError::Template(lexdesk_desk::TemplateError::NotFound {
            name: "no-such".into(),
        }));
        assert_eq!((e.status, e.code.as_str()), (StatusCode::NOT_FOUND, "TEMPLATE_NOT_FOUND"));
        let e = ApiError::from(lexdesk_desk::DeskError::Store(lexdesk_core::store::StoreError::DimensionMismatch {
            expected: 384,
            got: 768,
        }));
        assert_eq!((e.status, e.code.as_str()), (StatusCode::CONFLICT, "EMBEDDING_DIMENSION_MISMATCH"));
    }
}
