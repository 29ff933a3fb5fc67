//! Every resource is scoped to its owner: another user's id answers 404 (never 403, never the
//! data), and lists show only the caller's own.

use aae_testkit::Engine;
use serde_json::json;

use crate::helpers::{brief, error_code, json_of, spawn_app};

#[tokio::test]
async fn another_users_resources_answer_404() {
    let app = spawn_app(Engine::Sqlite).await;
    let ana = app.user("ana").await;
    let bob = app.user("bob").await;
    let conversation = json_of(app.post(&ana, "/api/v1/conversations", json!({})).await, 201).await;
    let conversation = conversation["id"].as_str().expect("id").to_owned();
    let file = json_of(
        app.post(&ana, "/api/v1/files/presign-upload", json!({"filename": "a.txt", "content_type": "text/plain"}))
            .await,
        201,
    )
    .await;
    let file = file["file_id"].as_str().expect("id").to_owned();
    let campaign = json_of(app.post(&ana, "/api/v1/campaigns", brief()).await, 202).await;
    let campaign = campaign["campaign_id"].as_str().expect("id").to_owned();

    for path in [
        format!("/api/v1/conversations/{conversation}"),
        format!("/api/v1/files/{file}/download-url"),
        format!("/api/v1/campaigns/{campaign}"),
        format!("/api/v1/campaigns/{campaign}/aws"),
        format!("/api/v1/campaigns/{campaign}/events"),
    ] {
        assert_eq!(error_code(app.get(&bob, &path).await, 404).await, "not_found", "{path}");
    }
    let send =
        app.post(&bob, &format!("/api/v1/conversations/{conversation}/messages"), json!({"content": "hi"})).await;
    assert_eq!(error_code(send, 404).await, "not_found");
    assert_eq!(
        error_code(app.post(&bob, &format!("/api/v1/campaigns/{campaign}/resume"), json!({})).await, 404).await,
        "not_found"
    );
    assert_eq!(
        error_code(app.delete(&bob, &format!("/api/v1/campaigns/{campaign}/aws")).await, 404).await,
        "not_found"
    );
    // Malformed ids are simply not found.
    assert_eq!(error_code(app.get(&bob, "/api/v1/conversations/not-a-uuid").await, 404).await, "not_found");

    for (path, key) in [
        ("/api/v1/conversations", "conversations"),
        ("/api/v1/files", "files"),
        ("/api/v1/campaigns", "campaigns"),
        ("/api/v1/campaigns/aws/list", "campaigns"),
    ] {
        let own = json_of(app.get(&ana, path).await, 200).await;
        assert_eq!(own[key].as_array().expect(key).len(), 1, "{path}");
        let other = json_of(app.get(&bob, path).await, 200).await;
        assert_eq!(other[key].as_array().expect(key).len(), 0, "{path}");
    }
    // Ana's campaign is still there after Bob's delete attempt.
    json_of(app.get(&ana, &format!("/api/v1/campaigns/{campaign}")).await, 200).await;
}
