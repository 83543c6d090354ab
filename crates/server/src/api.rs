//! The LexDesk API: matters, document uploads (ingestion jobs), search and grounded answers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use lexdesk_core::generate::CancelToken;
use lexdesk_core::store::SearchMode;
use lexdesk_desk::{AnswerMode, SearchRequest};
use lexdesk_desk::{AnswerProgress, AskParams, AskResult};
use tokio::io::AsyncWriteExt;

use crate::AppState;
use crate::auth::{Admin, Ask, Ingest, Key, Read};
use crate::error::ApiError;
use crate::jobs::safe_file_name;
use crate::wire::*;

fn matter_out(m: &lexdesk_desk::Matter) -> MatterOut {
    MatterOut { id: m.id.clone(), name: m.name.clone(), created_at_ms: m.created_at_ms }
}

pub(crate) async fn list_matters(State(state): State<AppState>, _key: Key<Read>) -> Result<Json<MatterList>, ApiError> {
    Ok(Json(MatterList { data: state.desk.matters().list()?.iter().map(matter_out).collect() }))
}

pub(crate) async fn create_matter(
    State(state): State<AppState>,
    _key: Key<Ingest>,
    body: Result<Json<CreateMatter>, JsonRejection>,
) -> Result<(StatusCode, Json<MatterOut>), ApiError> {
    let Json(body) = body?;
    let matter = state.desk.matters().create(&body.name)?;
    Ok((StatusCode::CREATED, Json(matter_out(&matter))))
}

pub(crate) async fn delete_matter(
    State(state): State<AppState>,
    _key: Key<Admin>,
    Path(matter_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.desk.matters().delete(&matter_id)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_documents(
    State(state): State<AppState>,
    _key: Key<Read>,
    Path(matter_id): Path<String>,
) -> Result<Json<DocumentList>, ApiError> {
    let docs = state.desk.documents(&matter_id).list().await?;
    let data = docs
        .into_iter()
        .map(|d| DocumentOut {
            status: serde_json::to_value(d.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            id: d.id,
            file_name: d.file_name,
            title: d.title,
            format: d.format,
            page_count: d.page_count,
            chunk_count: d.chunk_count,
            ocr_pages: d.ocr_pages,
            error_code: d.error_code,
            error_message: d.error_message,
            added_at_ms: d.added_at_ms,
        })
        .collect();
    Ok(Json(DocumentList { data }))
}

/// Multipart upload: every part with a file name is saved, then ingested as one job (202).
pub(crate) async fn upload_documents(
    State(state): State<AppState>,
    _key: Key<Ingest>,
    Path(matter_id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    let mut multipart = multipart?;
    // The matter must exist before anything is written.
    let matter = state.desk.matters().list()?.into_iter().find(|m| m.id == matter_id).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "MATTER_NOT_FOUND", format!("no matter with the id `{matter_id}`"))
    })?;
    let io = |e: std::io::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "IO", e.to_string());
    let (job_id, dir) = state.jobs.prepare().map_err(io)?;
    let result = async {
        let mut files: Vec<String> = Vec::new();
        while let Some(mut field) = multipart.next_field().await? {
            let Some(name) = field.file_name().and_then(safe_file_name) else { continue };
            let mut name = name;
            if files.contains(&name) {
                name = format!("{}-{name}", files.len() + 1);
            }
            let mut out = tokio::fs::File::create(dir.join(&name)).await.map_err(io)?;
            while let Some(bytes) = field.chunk().await? {
                out.write_all(&bytes).await.map_err(io)?;
            }
            out.flush().await.map_err(io)?;
            files.push(name);
        }
        if files.is_empty() {
            return Err(ApiError::invalid("file", "the upload holds no file parts (multipart fields with a filename)"));
        }
        Ok(files)
    }
    .await;
    let files = match result {
        Ok(f) => f,
        Err(e) => {
            // Nothing half-uploaded is ingested or kept.
            if let Err(rm) = tokio::fs::remove_dir_all(&dir).await {
                tracing::warn!("cannot remove {}: {rm}", dir.display());
            }
            return Err(e);
        }
    };
    let job = state.jobs.start(Arc::clone(&state.desk), state.metrics.clone(), job_id, matter.id, dir, files);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

pub(crate) async fn get_job(
    State(state): State<AppState>,
    _key: Key<Read>,
    Path(job_id): Path<String>,
) -> Result<Json<JobOut>, ApiError> {
    state
        .jobs
        .get(&job_id)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "JOB_NOT_FOUND", format!("no job `{job_id}`")))
}

pub(crate) async fn search(
    State(state): State<AppState>,
    _key: Key<Read>,
    Path(matter_id): Path<String>,
    body: Result<Json<SearchIn>, JsonRejection>,
) -> Result<Json<SearchOut>, ApiError> {
    let Json(body) = body?;
    let mode = match body.mode.as_deref() {
        None => SearchMode::Hybrid,
        Some(m) => m.parse().map_err(|e: String| ApiError::invalid("mode", e))?,
    };
    let limit = body.limit.unwrap_or(8);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "`limit` must be between 1 and 100"));
    }
    let request =
        SearchRequest { query: body.query, mode, top_k: limit, doc: body.doc, vector_weight: None, rerank: None };
    let hits = state.desk.documents(&matter_id).search(&request).await?;
    let data = hits
        .into_iter()
        .map(|h| SearchHitOut {
            doc_id: h.doc_id,
            doc: h.doc,
            page: h.page,
            page_end: h.page_end,
            heading: h.heading,
            text: h.text,
            score: h.score,
            structural: h.structural,
        })
        .collect();
    Ok(Json(SearchOut { data }))
}

fn ask_out(result: &AskResult) -> AskOut {
    let a = &result.turn.answer;
    AskOut {
        session_id: result.session.id.clone(),
        answer: a.answer.clone(),
        abstained: a.abstained,
        abstention_code: a.abstention.as_ref().map(|x| x.code.code().to_owned()),
        citations: a
            .citations
            .iter()
            .map(|c| CitationOut {
                id: c.id.clone(),
                doc: c.doc.clone(),
                page: c.page,
                heading: c.heading.clone(),
                quote: c.quote.clone(),
                verified: c.verified,
            })
            .collect(),
        unsupported_claims: a.unsupported_claims.clone(),
        stopped: a.stopped,
        language: serde_json::to_value(a.language).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        model: result.turn.model.clone(),
        usage: a.usage.as_ref().map(|u| CompletionUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: PromptTokensDetails { cached_tokens: u.cached_prompt_tokens },
        }),
        total_ms: a.timings.total_ms,
    }
}

/// A grounded answer with verified citations, saved as a turn of a session. With
/// `"stream": true`, server-sent events: `retrieved`, `token`…, then `answer` (or `error`).
pub(crate) async fn ask(
    State(state): State<AppState>,
    _key: Key<Ask>,
    Path(matter_id): Path<String>,
    body: Result<Json<AskIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let mode = match body.mode.as_deref() {
        None => AnswerMode::Generate,
        Some(m) => m.parse().map_err(|e: String| ApiError::invalid("mode", e))?,
    };
    if body.question.trim().is_empty() {
        return Err(ApiError::invalid("question", "the question is empty"));
    }
    let params = AskParams {
        question: body.question,
        session_id: body.session_id,
        doc: body.doc,
        mode: Some(mode),
        template: body.template,
        template_inputs: body.template_inputs,
        top_k: body.top_k,
        search_mode: None,
        max_tokens: body.max_tokens,
        rerank: None,
        seed: None,
    };
    let slot = match mode {
        AnswerMode::Generate => Some(state.slots.admit().await?),
        AnswerMode::Extractive => None,
    };
    let cancel = CancelToken::new();
    if !body.stream {
        // A client that disconnects drops this future, and with it the generation.
        let result = state.desk.answers(&matter_id).ask(&params, &cancel, &mut |_: AnswerProgress<'_>| {}).await?;
        drop(slot);
        record_usage(&state, &result);
        return Ok(Json(ask_out(&result)).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let desk = Arc::clone(&state.desk);
    let task_state = state.clone();
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let watch = cancel.clone();
        let mut on_progress = move |p: AnswerProgress<'_>| {
            let event = match p {
                AnswerProgress::Retrieved(s) => AskEventOut::Retrieved {
                    evidence: s.passages.iter().filter(|p| p.relevant).count(),
                    searched: s.passages.len(),
                },
                AnswerProgress::Token(t) => AskEventOut::Token { text: t.to_string() },
            };
            let name = if matches!(event, AskEventOut::Retrieved { .. }) { "retrieved" } else { "token" };
            let data = serde_json::to_string(&event).expect("events serialise");
            if progress_tx.send(Event::default().event(name).data(data)).is_err() {
                // The client is gone: stop generating.
                watch.cancel();
            }
        };
        let result = desk.answers(&matter_id).ask(&params, &cancel, &mut on_progress).await;
        drop(slot);
        let event = match result {
            Ok(r) => {
                record_usage(&task_state, &r);
                let data = serde_json::to_string(&AskEventOut::Answer(ask_out(&r))).expect("answers serialise");
                Event::default().event("answer").data(data)
            }
            Err(e) => Event::default()
                .event("error")
                .data(serde_json::to_string(&ApiError::from(e).body()).expect("errors serialise")),
        };
        tx.send(event).ok();
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

fn record_usage(state: &AppState, result: &AskResult) {
    if let Some(u) = &result.turn.answer.usage {
        state.metrics.generation(u);
    }
}
