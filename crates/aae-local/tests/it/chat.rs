//! The local chat model end to end: streaming, token counts, stop sequences, token budget,
//! grammar and JSON-Schema constrained output, invalid requests.

use aae_local::{ChatEvent, ChatMessage, ChatRequest, Constraint, LocalError, StopReason};
use serde_json::json;

use crate::support::chat_model;

fn ask(question: &str) -> ChatRequest {
    let mut request = ChatRequest::new(vec![
        ChatMessage::system("You are a helpful assistant. Answer briefly."),
        ChatMessage::user(question),
    ]);
    request.max_tokens = 48;
    request
}

#[tokio::test]
async fn answers_a_chat_prompt_with_streamed_deltas() {
    let model = chat_model();
    let mut stream = model.stream(ask("What is the capital of France?"));
    let mut deltas = Vec::new();
    let output = loop {
        match stream.next_event().await.expect("an event").expect("no error") {
            ChatEvent::Delta(delta) => deltas.push(delta),
            ChatEvent::Done(output) => break output,
        }
    };
    assert!(stream.next_event().await.is_none(), "nothing after done");
    eprintln!("{output:?}");
    assert!(!output.text.trim().is_empty());
    assert!(deltas.len() > 1, "streamed in pieces: {deltas:?}");
    assert_eq!(deltas.concat(), output.text);
    assert!(output.prompt_tokens > 10, "{output:?}");
    assert!(output.completion_tokens > 0);
    assert!(output.text.contains("Paris"), "{}", output.text);
    assert_eq!(output.stop_reason, StopReason::EndOfTurn);

    // Greedy is deterministic, and the non-streaming call gives the same answer.
    let again = model.generate(ask("What is the capital of France?")).await.expect("generate");
    assert_eq!(again.text, output.text);
    assert_eq!(again.completion_tokens, output.completion_tokens);
}

#[tokio::test]
async fn the_prompt_uses_the_models_chatml_template() {
    let model = chat_model();
    let prompt = model
        .render_prompt(&[
            ChatMessage::system("S"),
            ChatMessage::user("U"),
            ChatMessage::assistant("A"),
            ChatMessage::user("V"),
        ])
        .expect("render");
    assert_eq!(
        prompt,
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n\
         <|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[tokio::test]
async fn a_stop_sequence_cuts_the_text_where_it_starts() {
    let model = chat_model();
    let mut request = ask("Name three colours of the rainbow.");
    let full = model.generate(request.clone()).await.expect("generate");
    // A word from the middle of the greedy answer: the rerun must stop right before it.
    let words: Vec<&str> = full.text.split_whitespace().collect();
    assert!(words.len() >= 3, "answer too short to pick a stop sequence: {:?}", full.text);
    let stop = format!(" {}", words[words.len() / 2]);
    let at = full.text.find(&stop).expect("stop sequence in the answer");
    request.stop = vec!["<never>".to_owned(), stop.clone()];
    let mut streamed = String::new();
    let cut = model
        .generate_blocking(&request, &mut |delta| {
            streamed.push_str(delta);
            true
        })
        .expect("generate");
    assert_eq!(cut.text, full.text[..at]);
    assert_eq!(streamed, cut.text);
    assert_eq!(cut.stop_reason, StopReason::StopSequence(stop));
    assert!(cut.completion_tokens < full.completion_tokens);
}

#[tokio::test]
async fn max_tokens_bounds_the_completion() {
    let mut request = ask("Write a long story about a lighthouse keeper.");
    request.max_tokens = 5;
    let output = chat_model().generate(request).await.expect("generate");
    assert_eq!(output.completion_tokens, 5);
    assert_eq!(output.stop_reason, StopReason::MaxTokens);
}

#[tokio::test]
async fn sampling_with_a_seed_is_reproducible() {
    let mut request = ask("Suggest a name for a coffee brand.");
    request.temperature = 0.8;
    request.top_p = Some(0.95);
    request.seed = 7;
    let model = chat_model();
    let a = model.generate(request.clone()).await.expect("generate");
    let b = model.generate(request).await.expect("generate");
    assert_eq!(a.text, b.text);
    assert!(!a.text.is_empty());
}

#[tokio::test]
async fn json_schema_constrained_output_always_parses() {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 24},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 16}, "maxItems": 3}
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": false
    });
    let mut request = ask("Describe a customer called Ana, aged 34, as JSON.");
    // Bounded by the schema (string lengths, item count): it always completes within this budget.
    request.max_tokens = 200;
    request.constraint = Some(Constraint::JsonSchema(schema));
    let output = chat_model().generate(request).await.expect("generate");
    eprintln!("{}", output.text);
    let value: serde_json::Value = serde_json::from_str(&output.text).expect("the output is JSON");
    assert!(value["name"].is_string(), "{value}");
    assert!(value["age"].is_i64(), "{value}");
    assert!(value["tags"].as_array().is_some_and(|t| t.len() <= 3 && t.iter().all(|x| x.is_string())), "{value}");
    assert_eq!(value.as_object().map(|o| o.len()), Some(3), "{value}");
    assert_eq!(output.stop_reason, StopReason::EndOfTurn);
}

#[tokio::test]
async fn a_gbnf_grammar_restricts_the_answer() {
    let mut request = ask("Is Paris in France? Answer yes or no.");
    request.constraint = Some(Constraint::Grammar(r#"root ::= ("yes" | "no") "." "#.to_owned()));
    let output = chat_model().generate(request).await.expect("generate");
    assert!(output.text == "yes." || output.text == "no.", "{:?}", output.text);
}

#[tokio::test]
async fn concurrent_requests_share_the_model() {
    let model = chat_model();
    let (a, b) = tokio::join!(model.generate(ask("Say hello.")), model.generate(ask("Say goodbye.")));
    assert!(!a.expect("first").text.is_empty());
    assert!(!b.expect("second").text.is_empty());
}

#[tokio::test]
async fn invalid_requests_are_rejected_before_generation() {
    let model = chat_model();
    let empty = model.generate(ChatRequest::new(Vec::new())).await;
    assert!(matches!(empty, Err(LocalError::InvalidRequest(_))), "{empty:?}");

    let mut bad_grammar = ask("hi");
    bad_grammar.constraint = Some(Constraint::Grammar("start ::= \"x\"".to_owned()));
    let err = model.generate(bad_grammar).await.expect_err("no root rule");
    assert!(matches!(err, LocalError::InvalidRequest(_)), "{err}");

    let mut zero = ask("hi");
    zero.max_tokens = 0;
    assert!(matches!(model.generate(zero).await, Err(LocalError::InvalidRequest(_))));

    let mut hot = ask("hi");
    hot.temperature = f32::NAN;
    assert!(matches!(model.generate(hot).await, Err(LocalError::InvalidRequest(_))));
}
