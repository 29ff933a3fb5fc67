//! Properties 5, 6, 7 and 9 of seed 000, as property tests where the input space is large.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_models::testing::ScriptedProvider;
use aae_models::{CallContext, ChatRequest, ModelErrorKind, ModelRouter, StreamEvent};
use aae_testkit::{FakeModelServer, FakeReply};
use aae_types::{ModelCatalog, ModelKind, Provider, UserModelPreference};
use proptest::prelude::*;

use crate::support::{config, drain, router_with};

struct World {
    runtime: tokio::runtime::Runtime,
    openai: FakeModelServer,
    gemini: FakeModelServer,
    bedrock: Arc<ScriptedProvider>,
    local: Arc<ScriptedProvider>,
    router: ModelRouter,
}

fn world(extra: &[(&str, &str)]) -> World {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (openai, gemini) = runtime
        .block_on(async { (FakeModelServer::openai().await.unwrap(), FakeModelServer::gemini().await.unwrap()) });
    let openai_url = openai.base_url();
    let gemini_url = gemini.base_url();
    let mut overrides = vec![
        ("providers.openai_compatible.base_url", openai_url.as_str()),
        ("providers.openai_compatible.models", "qwen2.5:7b,llama3.2"),
        ("providers.gemini.api_key", "g-key"),
        ("providers.gemini.base_url", gemini_url.as_str()),
        // Properties 6 and 9 fail calls on purpose; the breaker has its own tests.
        ("router.breaker.failure_threshold", "0"),
    ];
    overrides.extend_from_slice(extra);
    let config = config(&overrides);
    let bedrock = Arc::new(ScriptedProvider::new("bedrock"));
    let local = Arc::new(ScriptedProvider::new("local"));
    let router = runtime
        .block_on(router_with(&config, &[(Provider::Bedrock, bedrock.clone()), (Provider::Local, local.clone())]));
    World { runtime, openai, gemini, bedrock, local, router }
}

fn context(provider: &str, model: &str) -> CallContext {
    CallContext { preference: Some(UserModelPreference::new(provider, model)), ..CallContext::default() }
}

/// Property 5 (and 7's routing half): every conversational model of the catalog, chosen as the
/// user's preference, is served by its own provider with its own model id on the wire.
#[test]
fn property_5_every_catalog_model_routes_to_its_provider_and_model_id() {
    let world = world(&[]);
    let entries: Vec<_> = world.router.catalog().of_kind(ModelKind::Conversational).cloned().collect();
    assert_eq!(entries.len(), 8, "5 seed models, the local model and two openai-compatible ones");
    let strategy = (0..entries.len(), "[a-zA-Z0-9 ,.?]{1,60}", any::<bool>());
    proptest!(ProptestConfig::with_cases(64), |((index, prompt, stream) in strategy)| {
        let entry = &entries[index];
        let ctx = context(entry.provider.as_str(), &entry.name);
        let request = ChatRequest::user(prompt.clone());
        let (content, model) = world.runtime.block_on(async {
            if stream {
                let routed = world.router.chat_stream(&ctx, &request).await.unwrap();
                let text: String = drain(routed.stream).await.into_iter().filter_map(|e| match e.unwrap() {
                    StreamEvent::TextDelta { text } => Some(text),
                    _ => None,
                }).collect();
                (text, routed.model)
            } else {
                let routed = world.router.chat(&ctx, &request).await.unwrap();
                (routed.value.content, routed.model)
            }
        });
        prop_assert_eq!(&model, entry);
        prop_assert!(!content.is_empty());
        match entry.provider {
            Provider::OpenaiCompatible => {
                let sent = world.openai.requests().pop().unwrap();
                prop_assert_eq!(sent.body["model"].as_str(), Some(entry.model_id.as_str()));
                prop_assert_eq!(sent.body["messages"][0]["content"].as_str(), Some(prompt.as_str()));
            }
            Provider::Gemini => {
                let sent = world.gemini.requests().pop().unwrap();
                let method = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
                prop_assert_eq!(sent.path, format!("/v1beta/models/{}:{method}", entry.model_id));
            }
            Provider::Bedrock | Provider::Local => {
                let scripted = if entry.provider == Provider::Bedrock { &world.bedrock } else { &world.local };
                let (model_id, request) = scripted.calls().pop().unwrap();
                prop_assert_eq!(model_id, entry.model_id.clone());
                prop_assert_eq!(request.messages, vec![aae_models::Message::user(prompt)]);
            }
            Provider::Sagemaker => prop_assert!(false, "sagemaker has no conversational model"),
        }
    });
}

/// Property 7: a preference is accepted exactly when it names a conversational model of its
/// provider; otherwise the error lists the allowed choices and no provider is called.
#[test]
fn property_7_preferences_are_validated_against_the_catalog() {
    let world = world(&[]);
    let catalog = world.router.catalog().clone();
    let providers = ["gemini", "bedrock", "sagemaker", "openai_compatible", "local", "openai", "anthropic", ""];
    let models: Vec<String> =
        catalog.entries().iter().map(|e| e.name.clone()).chain(["gpt-4o".into(), "".into()]).collect();
    let strategy = (prop::sample::select(providers.to_vec()), prop::sample::select(models), "[a-z0-9.-]{0,12}");
    proptest!(ProptestConfig::with_cases(256), |((provider, model, noise) in strategy)| {
        for model in [model.clone(), format!("{model}{noise}")] {
            let preference = UserModelPreference::new(provider, model.as_str());
            let valid = catalog.entries().iter().any(|e| {
                e.provider.as_str() == provider && e.name == model && e.kind == ModelKind::Conversational
            });
            match preference.validate(&catalog) {
                Ok(entry) => {
                    prop_assert!(valid);
                    prop_assert_eq!((entry.provider.as_str(), entry.name.as_str()), (provider, model.as_str()));
                }
                Err(error) => {
                    prop_assert!(!valid);
                    let text = error.to_string();
                    if provider.parse::<Provider>().is_err() {
                        prop_assert!(text.contains("allowed providers: gemini, bedrock, sagemaker, openai_compatible, local"), "{}", text);
                    } else {
                        prop_assert!(text.contains("allowed models:"), "{}", text);
                        for allowed in catalog.entries().iter().filter(|e| e.provider.as_str() == provider && e.kind == ModelKind::Conversational) {
                            prop_assert!(text.contains(&allowed.name), "{}", text);
                        }
                    }
                    let calls_before = world.bedrock.calls().len() + world.openai.request_count();
                    let routed = world.runtime.block_on(world.router.chat(&context(provider, &model), &ChatRequest::user("x")));
                    prop_assert_eq!(routed.unwrap_err().kind, ModelErrorKind::UnknownModel);
                    prop_assert_eq!(world.bedrock.calls().len() + world.openai.request_count(), calls_before);
                }
            }
        }
    });
    let builtin = ModelCatalog::builtin();
    assert!(UserModelPreference::new("openai_compatible", "qwen2.5:7b").validate(&builtin).is_err());
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttled,
    ServerError,
    Unavailable,
}

/// Property 6: throttling and 5xx are retried (up to `max_retries`) and then surface as a clear
/// error naming provider, model, status and attempts; errors a retry cannot fix are not retried.
#[test]
fn property_6_retryable_faults_are_retried_then_surface_clearly() {
    let world = world(&[("router.retry.max_retries", "3")]);
    let fault = prop_oneof![Just(Fault::Throttled), Just(Fault::ServerError), Just(Fault::Unavailable)];
    let ctx = context("openai_compatible", "qwen2.5:7b");
    proptest!(ProptestConfig::with_cases(32), |(faults in prop::collection::vec(fault, 0..6))| {
        let before = world.openai.request_count();
        world.openai.push(faults.iter().map(|f| match f {
            Fault::Throttled => FakeReply::throttled(0),
            Fault::ServerError => FakeReply::status(500),
            Fault::Unavailable => FakeReply::status(503),
        }));
        world.openai.push([FakeReply::text("recovered")]);
        let result = world.runtime.block_on(world.router.chat(&ctx, &ChatRequest::user("hi")));
        let sent = world.openai.request_count() - before;
        if faults.len() <= 3 {
            prop_assert_eq!(result.unwrap().value.content, "recovered");
            prop_assert_eq!(sent, faults.len() + 1);
        } else {
            let error = result.unwrap_err();
            prop_assert!(error.is_retryable());
            prop_assert_eq!(sent, 4);
            let text = error.to_string();
            prop_assert!(text.contains("openai_compatible/qwen2.5:7b"), "{}", text);
            prop_assert!(text.contains("retries exhausted after 4 attempts"), "{}", text);
            let status = match faults[3] { Fault::Throttled => 429, Fault::ServerError => 500, Fault::Unavailable => 503 };
            prop_assert!(text.contains(&format!("http {status}")), "{}", text);
            world.openai.clear_script();
        }
    });
    for status in [400, 401, 403, 404, 422] {
        let before = world.openai.request_count();
        world.openai.push([FakeReply::status(status)]);
        let error = world.runtime.block_on(world.router.chat(&ctx, &ChatRequest::user("hi"))).unwrap_err();
        assert!(!error.is_retryable(), "{status}: {error}");
        assert_eq!(world.openai.request_count() - before, 1, "{status} is not retried");
        assert!(error.to_string().contains(&format!("http {status}")), "{error}");
    }
}

/// Property 6/9: `Retry-After` is honoured, and a hanging provider is cut at the per-request
/// timeout, retried, and surfaces as a timeout within the deadline, for plain and streamed calls.
#[test]
fn property_9_timeouts_are_enforced_and_retry_after_is_honoured() {
    let world = world(&[
        ("router.request_timeout_secs", "1"),
        ("router.retry.max_retries", "1"),
        ("router.retry.deadline_secs", "10"),
    ]);
    let ctx = context("gemini", "gemini-2.5-flash");
    world.gemini.push([FakeReply::throttled(1), FakeReply::text("after the wait")]);
    let started = Instant::now();
    let routed = world.runtime.block_on(world.router.chat(&ctx, &ChatRequest::user("hi"))).unwrap();
    assert_eq!(routed.value.content, "after the wait");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After: {:?}", started.elapsed());

    world.gemini.push([FakeReply::Hang, FakeReply::Hang]);
    let before = world.gemini.request_count();
    let started = Instant::now();
    let error = world.runtime.block_on(world.router.chat(&ctx, &ChatRequest::user("hi"))).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.kind, ModelErrorKind::Timeout, "{error}");
    assert_eq!(world.gemini.request_count() - before, 2, "one retry");
    assert!(elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(error.to_string().contains("timed out gemini/gemini-2.5-flash"), "{error}");

    // A stream that stops sending is cut at the same timeout, after the text it did send.
    world.openai.push([FakeReply::HangAfter { text: "partial answer".into() }]);
    let ctx = context("openai_compatible", "llama3.2");
    let started = Instant::now();
    let events = world.runtime.block_on(async {
        let routed = world.router.chat_stream(&ctx, &ChatRequest::user("hi")).await.unwrap();
        drain(routed.stream).await
    });
    let elapsed = started.elapsed();
    let last = events.last().unwrap().as_ref().unwrap_err();
    assert_eq!(last.kind, ModelErrorKind::Timeout, "{last}");
    assert!(events.iter().any(|e| matches!(e, Ok(StreamEvent::TextDelta { .. }))));
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3), "{elapsed:?}");

    // The total deadline caps retries even when each attempt is within its timeout.
    let world = crate::properties::world(&[
        ("router.request_timeout_secs", "1"),
        ("router.retry.max_retries", "10"),
        ("router.retry.deadline_secs", "2"),
    ]);
    world.gemini.set_default(FakeReply::Hang);
    let started = Instant::now();
    let error =
        world.runtime.block_on(world.router.chat(&context("gemini", "gemini-2.5-pro"), &ChatRequest::user("hi")));
    assert_eq!(error.unwrap_err().kind, ModelErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(2_600), "{:?}", started.elapsed());
}
