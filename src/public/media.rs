//! `GET /media/{key}`: stored screenshots, by content hash.

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use prospector_jobs::screenshot::{MediaKey, StoreError};

use super::PublicState;

/// A file of the media store. Keys are content hashes, so a file never
/// changes: it is cached for a year. Anything that is not a key is 404.
pub async fn get(State(state): State<PublicState>, Path(key): Path<String>) -> Response {
    let (Some(store), Ok(key)) = (&state.media, MediaKey::parse(&key)) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    match store.get(&key).await {
        Ok(bytes) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(key.kind().content_type()),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            response
        }
        Err(StoreError::NotFound(_)) => (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a media file");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
