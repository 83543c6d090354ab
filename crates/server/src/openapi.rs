//! The route table and the OpenAPI 3.0 document generated from it and from the wire types'
//! JSON schemas (schemars). The router is built from the same table, so the document cannot
//! list a route the server lacks; `crates/server/openapi.json` is the checked-in copy, and a
//! test fails when it is stale (`LEXDESK_UPDATE_OPENAPI=1` rewrites it).

use schemars::JsonSchema;
use schemars::r#gen::{SchemaGenerator, SchemaSettings};
use schemars::schema::Schema;
use serde_json::{Map, Value, json};

use crate::keys::Scope;
use crate::wire::*;
use crate::{RouteSpec, error::ErrorBody};

/// A JSON schema of a wire type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// A request or response body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// No body.
    Empty,
    /// JSON of a type.
    Json(SchemaFn),
    /// JSON, or with `"stream": true` server-sent events whose data are the second type.
    JsonOrEvents(SchemaFn, SchemaFn),
    /// `multipart/form-data` with file parts.
    Multipart,
    /// Prometheus text.
    Prometheus,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// Every route the server has.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "GET",
        path: "/health",
        scope: None,
        tag: "health",
        summary: "Liveness: the process answers.",
        request: None,
        response: Body::Json(schema::<HealthStatus>),
        status: 200,
    },
    RouteSpec {
        method: "GET",
        path: "/ready",
        scope: Some(Scope::Read),
        tag: "health",
        summary: "Readiness: the chat and embedding models are loaded (503 while loading).",
        request: None,
        response: Body::Json(schema::<HealthStatus>),
        status: 200,
    },
    RouteSpec {
        method: "GET",
        path: "/metrics",
        scope: Some(Scope::Metrics),
        tag: "health",
        summary: "Prometheus metrics (admin or metrics key).",
        request: None,
        response: Body::Prometheus,
        status: 200,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/models",
        scope: Some(Scope::Read),
        tag: "openai",
        summary: "The chat and embedding models served.",
        request: None,
        response: Body::Json(schema::<ModelList>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/chat/completions",
        scope: Some(Scope::Ask),
        tag: "openai",
        summary: "OpenAI chat completion; `stream: true` sends chunks as server-sent events ending with `[DONE]`.",
        request: Some(Body::Json(schema::<ChatCompletionRequest>)),
        response: Body::JsonOrEvents(schema::<ChatCompletion>, schema::<ChatCompletionChunk>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/embeddings",
        scope: Some(Scope::Ask),
        tag: "openai",
        summary: "OpenAI embeddings with the matter store's embedding model.",
        request: Some(Body::Json(schema::<EmbeddingRequest>)),
        response: Body::Json(schema::<EmbeddingList>),
        status: 200,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/matters",
        scope: Some(Scope::Read),
        tag: "matters",
        summary: "Matters, by name.",
        request: None,
        response: Body::Json(schema::<MatterList>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/matters",
        scope: Some(Scope::Ingest),
        tag: "matters",
        summary: "Create a matter.",
        request: Some(Body::Json(schema::<CreateMatter>)),
        response: Body::Json(schema::<MatterOut>),
        status: 201,
    },
    RouteSpec {
        method: "DELETE",
        path: "/v1/matters/{matter_id}",
        scope: Some(Scope::Admin),
        tag: "matters",
        summary: "Delete a matter with its documents, index and sessions.",
        request: None,
        response: Body::Empty,
        status: 204,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/matters/{matter_id}/documents",
        scope: Some(Scope::Read),
        tag: "documents",
        summary: "A matter's documents, newest first, failed ones with their reasons.",
        request: None,
        response: Body::Json(schema::<DocumentList>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/matters/{matter_id}/documents",
        scope: Some(Scope::Ingest),
        tag: "documents",
        summary: "Upload documents (multipart file parts); ingested by a background job.",
        request: Some(Body::Multipart),
        response: Body::Json(schema::<JobOut>),
        status: 202,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/jobs/{job_id}",
        scope: Some(Scope::Read),
        tag: "documents",
        summary: "An ingestion job's status.",
        request: None,
        response: Body::Json(schema::<JobOut>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/matters/{matter_id}/search",
        scope: Some(Scope::Read),
        tag: "answers",
        summary: "Hybrid, vector or full-text search in a matter.",
        request: Some(Body::Json(schema::<SearchIn>)),
        response: Body::Json(schema::<SearchOut>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/matters/{matter_id}/ask",
        scope: Some(Scope::Ask),
        tag: "answers",
        summary: "A grounded answer with verified citations (abstains when the documents do not support one).",
        request: Some(Body::Json(schema::<AskIn>)),
        response: Body::JsonOrEvents(schema::<AskOut>, schema::<AskEventOut>),
        status: 200,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/evals/sets",
        scope: Some(Scope::Eval),
        tag: "evaluation",
        summary: "The gold sets (imported with `lexdesk eval sets import`).",
        request: None,
        response: Body::Json(schema::<EvalSetList>),
        status: 200,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/evals",
        scope: Some(Scope::Eval),
        tag: "evaluation",
        summary: "Evaluation runs, newest first, with their progress.",
        request: None,
        response: Body::Json(schema::<EvalRunList>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/evals",
        scope: Some(Scope::Eval),
        tag: "evaluation",
        summary: "Start a run of a gold set in the background (one at a time per node; 409 `EVAL_BUSY` otherwise).",
        request: Some(Body::Json(schema::<EvalIn>)),
        response: Body::Json(schema::<EvalRunOut>),
        status: 202,
    },
    RouteSpec {
        method: "GET",
        path: "/v1/evals/{run_id}",
        scope: Some(Scope::Eval),
        tag: "evaluation",
        summary: "A run's metrics (95 % bootstrap intervals), per tag, citation honesty and items so far.",
        request: None,
        response: Body::Json(schema::<EvalReportOut>),
        status: 200,
    },
    RouteSpec {
        method: "POST",
        path: "/v1/evals/{run_id}/cancel",
        scope: Some(Scope::Eval),
        tag: "evaluation",
        summary: "Stop a running run after the items in progress (resumable with `lexdesk eval resume`).",
        request: None,
        response: Body::Json(schema::<EvalRunOut>),
        status: 200,
    },
];

fn content(body: Body, g: &mut SchemaGenerator) -> Option<Value> {
    let to = |s: Schema| serde_json::to_value(s).expect("schemas serialise");
    match body {
        Body::Empty => None,
        Body::Json(f) => Some(json!({ "application/json": { "schema": to(f(g)) } })),
        Body::JsonOrEvents(f, e) => Some(json!({
            "application/json": { "schema": to(f(g)) },
            "text/event-stream": { "schema": to(e(g)), "x-lexdesk-note": "each event's data is one JSON value of this schema" }
        })),
        Body::Multipart => Some(json!({ "multipart/form-data": { "schema": {
            "type": "object",
            "properties": { "file": { "type": "array", "items": { "type": "string", "format": "binary" } } }
        } } })),
        Body::Prometheus => Some(json!({ "text/plain; version=0.0.4": { "schema": { "type": "string" } } })),
    }
}

/// The OpenAPI 3.0 document.
#[must_use]
pub fn document() -> Value {
    let mut g = SchemaSettings::openapi3().into_generator();
    let error_schema = serde_json::to_value(g.subschema_for::<ErrorBody>()).expect("schemas serialise");
    let error = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": error_schema.clone() } } });
    let mut paths = Map::new();
    for spec in ROUTES {
        let mut responses = Map::new();
        let mut ok = json!({ "description": "Success" });
        if let Some(c) = content(spec.response, &mut g) {
            ok["content"] = c;
        }
        responses.insert(spec.status.to_string(), ok);
        if spec.request.is_some() || spec.path.contains('{') {
            responses.insert("400".into(), error("Invalid request"));
        }
        if spec.scope.is_some() {
            responses.insert("401".into(), error("Missing, invalid or revoked API key"));
            responses.insert("403".into(), error("The key lacks the scope"));
            responses.insert("429".into(), error("The key's rate limit; see Retry-After"));
        }
        if spec.path.contains('{') {
            responses.insert("404".into(), error("Not found"));
        }
        if spec.request.is_some() {
            responses.insert("413".into(), error("Body too large"));
        }
        if matches!(spec.scope, Some(Scope::Ask)) {
            responses.insert("503".into(), error("Every generation slot and the queue are full; see Retry-After"));
        }
        let params: Vec<Value> = spec
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut op = json!({
            "summary": spec.summary,
            "tags": [spec.tag],
            "operationId": operation_id(spec),
            "responses": responses,
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(c) = spec.request.and_then(|b| content(b, &mut g)) {
            op["requestBody"] = json!({ "required": true, "content": c });
        }
        match spec.scope {
            Some(scope) => {
                op["security"] = json!([{ "apiKey": [] }]);
                op["x-lexdesk-scope"] = json!(scope.as_str());
            }
            None => op["security"] = json!([]),
        }
        let entry = paths.entry(spec.path.to_string()).or_insert_with(|| json!({}));
        entry[spec.method.to_ascii_lowercase()] = op;
    }
    let schemas = serde_json::to_value(g.definitions()).expect("schemas serialise");
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "LexDesk server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OpenAI-compatible chat completions, embeddings and models, plus LexDesk's matters, uploads, search and grounded answers. Every route but /health needs an API key (`lexdesk keys create`) with the scope in x-lexdesk-scope; admin grants every scope."
        },
        "servers": [{ "url": "http://127.0.0.1:8080" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "lxd_… API key" } }
        }
    })
}

fn operation_id(spec: &RouteSpec) -> String {
    let words: Vec<&str> = spec.path.split(['/', '.', '{', '}', '_']).filter(|s| !s.is_empty() && *s != "v1").collect();
    format!("{}_{}", spec.method.to_ascii_lowercase(), words.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_document_is_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let text = serde_json::to_string_pretty(&document()).unwrap() + "\n";
        if std::env::var_os("LEXDESK_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == text,
            "crates/server/openapi.json is stale: run LEXDESK_UPDATE_OPENAPI=1 cargo test --workspace openapi_document_is_fresh"
        );
    }

    #[test]
    fn every_route_is_unique_and_documented() {
        let doc = document();
        let mut seen = std::collections::HashSet::new();
        for spec in ROUTES {
            assert!(seen.insert((spec.method, spec.path)), "{} {} twice", spec.method, spec.path);
            let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {}", spec.method, spec.path);
            assert_eq!(op["security"].as_array().unwrap().is_empty(), spec.scope.is_none());
        }
        // Only /health is open.
        assert_eq!(ROUTES.iter().filter(|r| r.scope.is_none()).map(|r| r.path).collect::<Vec<_>>(), ["/health"]);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in
            ["ChatCompletionRequest", "ChatCompletion", "ChatCompletionChunk", "EmbeddingList", "AskOut", "ErrorBody"]
        {
            assert!(schemas.contains_key(name), "{name}");
        }
    }
}
