//! `aae chat [--provider P --model M] "prompt"`: one prompt through the model router, the reply
//! streamed to stdout as it arrives; tool calls and usage go to stderr.

use std::io::Write;
use std::process::ExitCode;

use aae_config::Config;
use aae_models::{CallContext, ChatRequest, Message, ModelRouter, StreamEvent};
use aae_types::{ModelKind, UserModelPreference};
use futures::StreamExt;

use crate::cli::ChatArgs;

pub async fn run(config: &Config, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let router = ModelRouter::from_config(config).await?;
    let preference = preference(config, &args)?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::system(system.clone()));
    }
    messages.push(Message::user(args.prompt.clone()));
    let request =
        ChatRequest { messages, temperature: args.temperature, max_tokens: args.max_tokens, ..Default::default() };
    let context = CallContext { preference, ..CallContext::default() };
    let routed = router.chat_stream(&context, &request).await?;
    for failure in &routed.failures {
        eprintln!("note: {failure}; using {}", routed.model.key());
    }
    let mut stream = routed.stream;
    let mut stdout = std::io::stdout();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::TextDelta { text } => {
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
            }
            StreamEvent::ToolCall { call } => eprintln!("\ntool call {}: {}", call.name, call.arguments),
            StreamEvent::Usage { usage } => tracing::info!(
                model = %routed.model.key(),
                input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens,
                "usage"
            ),
            StreamEvent::Stop { .. } => {}
        }
    }
    writeln!(stdout)?;
    Ok(ExitCode::SUCCESS)
}

/// `--provider`/`--model` as a preference: both given, or only the provider (its first
/// conversational model), or only a model (found across providers); neither: the default.
fn preference(config: &Config, args: &ChatArgs) -> anyhow::Result<Option<UserModelPreference>> {
    let catalog = config.model_catalog();
    let conversational = || catalog.of_kind(ModelKind::Conversational);
    let preference = match (&args.provider, &args.model) {
        (None, None) => return Ok(None),
        (Some(provider), Some(model)) => UserModelPreference::new(provider.clone(), model.clone()),
        (Some(provider), None) => {
            let first = conversational().find(|e| e.provider.as_str() == provider);
            match first {
                Some(entry) => UserModelPreference::new(provider.clone(), entry.name.clone()),
                // Validation below reports the unknown provider with the allowed ones.
                None => UserModelPreference::new(provider.clone(), String::new()),
            }
        }
        (None, Some(model)) => match conversational().find(|e| &e.name == model) {
            Some(entry) => UserModelPreference::new(entry.provider.as_str(), model.clone()),
            None => {
                let allowed: Vec<String> = conversational().map(|e| e.key()).collect();
                anyhow::bail!("unknown model `{model}`; allowed: {}", allowed.join(", "));
            }
        },
    };
    preference.validate(&catalog)?;
    Ok(Some(preference))
}
