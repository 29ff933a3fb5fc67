//! FileStore, DocumentStore, ConversationStore and UsageStore.

use std::sync::Arc;

use aae_store::{
    Chunk, DocumentStatus, FileStatus, MessageRole, NewDocument, NewFile, NewJob, NewMessage, NewUsage, StoreErrorKind,
};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::support::{TestDb, user};

async fn file_metadata_round_trip(db: &TestDb) {
    let files = &db.records.files;
    let alice = user(db, "alice").await;
    let job = db.records.jobs.enqueue(NewJob::new("video", "intro")).await.unwrap();
    let mut new = NewFile::new(
        "video",
        "dev-aae-videos",
        format!("users/{}/jobs/{}/videos/scene_001/output.mp4", alice.id, job.id),
    );
    new.user_id = Some(alice.id);
    new.job_id = Some(job.id);
    new.original_filename = Some("scene 1.mp4".into());
    new.file_size = Some(5 * 1024 * 1024 * 1024);
    new.content_type = Some("video/mp4".into());
    new.version_id = Some("v1".into());
    new.metadata = json!({"scene": 1});
    let stored = files.create(new.clone()).await.unwrap();
    assert_eq!(stored.file_size, Some(5 * 1024 * 1024 * 1024), "sizes are 64-bit");
    assert_eq!(files.get(stored.id).await.unwrap(), stored);
    let mut second = new.clone();
    second.version_id = Some("v2".into());
    let newer = files.create(second).await.unwrap();
    assert_eq!(files.find_by_key("dev-aae-videos", &new.s3_key).await.unwrap().map(|f| f.id), Some(newer.id));
    assert_eq!(files.find_by_key("dev-aae-videos", "missing").await.unwrap(), None);
    assert_eq!(
        files.list_by_user(alice.id, 10, 0).await.unwrap().iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![newer.id, stored.id]
    );
    assert_eq!(files.list_by_job(job.id).await.unwrap().len(), 2);
    let mut orphan = NewFile::new("upload", "b", "k");
    orphan.user_id = Some(Uuid::new_v4());
    assert_eq!(files.create(orphan).await.unwrap_err().kind, StoreErrorKind::Conflict);
    assert_eq!(
        db.records.users.delete(alice.id).await.unwrap_err().kind,
        StoreErrorKind::Conflict,
        "files reference her"
    );
    files.delete(stored.id).await.unwrap();
    assert_eq!(files.get(stored.id).await.unwrap_err().kind, StoreErrorKind::NotFound);
}

async fn presigned_uploads_are_pending_until_confirmed(db: &TestDb) {
    let files = &db.records.files;
    let alice = user(db, "alice").await;
    assert_eq!(NewFile::new("upload", "b", "k").status, FileStatus::Confirmed, "the default");
    let mut new = NewFile::new("upload", "dev-aae-uploads", format!("users/{}/uploads/photo.png", alice.id));
    new.user_id = Some(alice.id);
    new.status = FileStatus::Pending;
    new.content_type = Some("application/octet-stream".into());
    new.version_id = Some("v0".into());
    let pending = files.create(new).await.unwrap();
    assert_eq!((pending.status, pending.file_size), (FileStatus::Pending, None));
    assert_eq!(files.get(pending.id).await.unwrap().status, FileStatus::Pending);

    let confirmed = files.confirm(pending.id, Some(2_048), Some("image/png"), None).await.unwrap();
    assert_eq!(confirmed.status, FileStatus::Confirmed);
    assert_eq!(
        (confirmed.file_size, confirmed.content_type.as_deref(), confirmed.version_id.as_deref()),
        (Some(2_048), Some("image/png"), Some("v0")),
        "`None` keeps the recorded value"
    );
    assert_eq!(
        (confirmed.id, confirmed.created_at, &confirmed.s3_key),
        (pending.id, pending.created_at, &pending.s3_key)
    );
    assert_eq!(files.get(pending.id).await.unwrap(), confirmed);
    let again = files.confirm(pending.id, None, None, Some("v1")).await.unwrap();
    assert_eq!(
        (again.status, again.file_size, again.version_id.as_deref()),
        (FileStatus::Confirmed, Some(2_048), Some("v1"))
    );
    assert_eq!(files.confirm(Uuid::new_v4(), None, None, None).await.unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(files.confirm(pending.id, Some(-1), None, None).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!("pending".parse::<FileStatus>().unwrap(), FileStatus::Pending);
    assert_eq!(serde_json::to_value(FileStatus::Confirmed).unwrap(), json!("confirmed"));
}

async fn documents_and_chunks(db: &TestDb) {
    let docs = &db.records.documents;
    let alice = user(db, "alice").await;
    let new = NewDocument {
        owner_id: alice.id,
        title: "Brand guide".into(),
        content_type: "application/pdf".into(),
        storage_key: "users/a/documents/guide.pdf".into(),
        size_bytes: Some(123_456),
        metadata: json!({"pages": 12}),
    };
    let doc = docs.create(new.clone()).await.unwrap();
    assert_eq!(doc.status, DocumentStatus::Uploaded);
    let processing = docs.set_status(doc.id, DocumentStatus::Processing, None).await.unwrap();
    assert_eq!(processing.status, DocumentStatus::Processing);
    let chunks: Vec<Chunk> = (0..3)
        .map(|i| Chunk {
            chunk_index: i,
            start_offset: i as i64 * 100,
            end_offset: i as i64 * 100 + 100,
            token_count: 25,
            embedding_ref: Some(format!("vec-{i}")),
        })
        .collect();
    docs.replace_chunks(doc.id, &chunks).await.unwrap();
    assert_eq!(docs.chunks(doc.id).await.unwrap(), chunks);
    docs.replace_chunks(doc.id, &chunks[..1]).await.unwrap();
    assert_eq!(docs.chunks(doc.id).await.unwrap().len(), 1, "replaced, not appended");
    assert_eq!(docs.replace_chunks(doc.id, &chunks[1..]).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(docs.replace_chunks(Uuid::new_v4(), &chunks).await.unwrap_err().kind, StoreErrorKind::NotFound);
    let failed = docs.set_status(doc.id, DocumentStatus::Failed, Some("unreadable page 3")).await.unwrap();
    assert_eq!(failed.error.as_deref(), Some("unreadable page 3"));
    let second = docs.create(new).await.unwrap();
    assert_eq!(
        docs.list_by_owner(alice.id, 10, 0).await.unwrap().iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![second.id, doc.id]
    );
    docs.delete(doc.id).await.unwrap();
    assert!(docs.chunks(doc.id).await.unwrap().is_empty(), "chunks go with their document");
    assert_eq!(docs.get(doc.id).await.unwrap_err().kind, StoreErrorKind::NotFound);
}

async fn conversations_keep_tool_calls_in_order(db: &TestDb) {
    let store = Arc::clone(&db.records.conversations);
    let alice = user(db, "alice").await;
    let conversation = store.create(alice.id, Some("Launch plan"), json!({"agent": "orchestrator"})).await.unwrap();
    let mut call = NewMessage::text(MessageRole::Assistant, "");
    call.tool_calls = Some(json!([{"id": "call_1", "name": "market_insights", "arguments": {"q": "founders"}}]));
    let stored = store
        .append(
            conversation.id,
            vec![
                NewMessage::text(MessageRole::System, "You plan campaigns."),
                NewMessage::text(MessageRole::User, "Plan a launch"),
                call,
                NewMessage::tool_result("call_1", "{\"segments\": 3}"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|m| m.sequence).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    let history = store.messages(conversation.id, 0, 100).await.unwrap();
    assert_eq!(history, stored);
    assert_eq!(history[3].tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(history[2].tool_calls.as_ref().map(|c| c[0]["name"].clone()), Some(json!("market_insights")));
    assert_eq!(store.messages(conversation.id, 2, 1).await.unwrap()[0].sequence, 2);
    let bad = store.append(conversation.id, vec![NewMessage::text(MessageRole::Tool, "orphan")]).await.unwrap_err();
    assert_eq!(bad.kind, StoreErrorKind::Invalid);
    assert_eq!(store.append(Uuid::new_v4(), vec![]).await.unwrap_err().kind, StoreErrorKind::NotFound);

    // Concurrent appends get distinct, gap-free sequence numbers.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = Arc::clone(&store);
            let id = conversation.id;
            tokio::spawn(
                async move { store.append(id, vec![NewMessage::text(MessageRole::User, format!("m{i}"))]).await },
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let all = store.messages(conversation.id, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|m| m.sequence).collect::<Vec<_>>(), (0..14).collect::<Vec<_>>());
    assert_eq!(store.get(conversation.id).await.unwrap().message_count, 14);
    let other = store.create(alice.id, None, json!(null)).await.unwrap();
    let listed = store.list_by_user(alice.id, 10, 0).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![other.id, conversation.id]);
    store.delete(conversation.id).await.unwrap();
    assert!(store.messages(conversation.id, 0, 10).await.unwrap().is_empty());
}

async fn usage_is_summarised_per_model(db: &TestDb) {
    let usage = &db.records.usage;
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    let record = |user_id, provider: &str, model: &str, input, output, cost| NewUsage {
        user_id,
        provider: provider.into(),
        model: model.into(),
        input_tokens: input,
        output_tokens: output,
        cost_micros: cost,
        images: 0,
        video_seconds: 0,
        latency_ms: 12,
        request_id: None,
    };
    let start = Utc::now() - chrono::Duration::seconds(1);
    usage.record(record(alice.id, "gemini", "gemini-2.5-flash", 100, 50, 1_000)).await.unwrap();
    usage.record(record(alice.id, "gemini", "gemini-2.5-flash", 200, 25, 2_000)).await.unwrap();
    let last = usage.record(record(alice.id, "bedrock", "claude-4.5-sonnet", 10, 5, 9_000)).await.unwrap();
    usage.record(record(bob.id, "gemini", "gemini-2.5-pro", 1, 1, 1)).await.unwrap();
    assert_eq!(usage.record(record(alice.id, "", "m", 1, 1, 1)).await.unwrap_err().kind, StoreErrorKind::Invalid);
    assert_eq!(usage.record(record(alice.id, "p", "m", -1, 1, 1)).await.unwrap_err().kind, StoreErrorKind::Invalid);

    let summary = usage.summary(alice.id, None, None).await.unwrap();
    assert_eq!(
        (summary.requests, summary.input_tokens, summary.output_tokens, summary.cost_micros),
        (3, 310, 80, 12_000)
    );
    assert_eq!(summary.by_model.len(), 2);
    assert_eq!((summary.by_model[0].provider.as_str(), summary.by_model[0].requests), ("bedrock", 1));
    assert_eq!((summary.by_model[1].model.as_str(), summary.by_model[1].input_tokens), ("gemini-2.5-flash", 300));
    let listed = usage.list(alice.id, Some(start), None, 10).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], last, "newest first");
    let future = Utc::now() + chrono::Duration::hours(1);
    assert_eq!(usage.summary(alice.id, Some(future), None).await.unwrap().requests, 0);
    assert_eq!(usage.list(alice.id, None, Some(start), 10).await.unwrap().len(), 0);

    // Many rows in one statement: all written, or none when one is bad.
    let many: Vec<NewUsage> = (0..250).map(|i| record(bob.id, "openai_compatible", "m", i, 2 * i, 3 * i)).collect();
    assert_eq!(usage.record_many(&many).await.unwrap(), 250);
    assert_eq!(usage.record_many(&[]).await.unwrap(), 0);
    let bob_summary = usage.summary(bob.id, None, None).await.unwrap();
    assert_eq!((bob_summary.requests, bob_summary.input_tokens), (251, 1 + (0..250).sum::<i64>()));
    let bad = vec![record(bob.id, "p", "m", 1, 1, 1), record(bob.id, "p", "m", -1, 1, 1)];
    assert_eq!(usage.record_many(&bad).await.unwrap_err().kind, StoreErrorKind::Invalid);
    let ghost = vec![record(bob.id, "p", "m", 1, 1, 1), record(uuid::Uuid::new_v4(), "p", "m", 1, 1, 1)];
    assert!(usage.record_many(&ghost).await.is_err(), "an unknown user fails the batch");
    assert_eq!(usage.summary(bob.id, None, None).await.unwrap().requests, 251, "nothing of a failed batch is kept");
}

crate::conformance!(
    file_metadata_round_trip,
    presigned_uploads_are_pending_until_confirmed,
    documents_and_chunks,
    conversations_keep_tool_calls_in_order,
    usage_is_summarised_per_model,
);
