//! Ordered fallback lists per model (`router.fallbacks`; by default `bedrock/claude-4.5-sonnet`
//! ↔ `bedrock/qwen3`, seed 000 "automatic fallback between Claude and Qwen models"). The router
//! tries the chosen model, then each fallback in order, moving on only after a failure another
//! model might not share ([`ModelError::allows_fallback`]). When every model fails, the error is
//! [`ModelErrorKind::AllFailed`] with each attempt's failure, in order.

use std::collections::HashMap;

use aae_types::{ModelCatalog, ModelEntry};

use crate::error::{ModelError, ModelErrorKind};

/// The validated fallback lists.
#[derive(Debug, Clone, Default)]
pub struct FallbackTable {
    lists: HashMap<String, Vec<ModelEntry>>,
}

impl FallbackTable {
    /// Builds the table from `provider/model` keys, checking each against the catalog
    /// (`aae-config` already rejected unknown keys at load time).
    pub fn new(
        catalog: &ModelCatalog,
        config: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<Self, ModelError> {
        let mut lists = HashMap::new();
        for (model, fallbacks) in config {
            let entry = catalog.resolve_key(model)?;
            let chain = fallbacks.iter().map(|k| catalog.resolve_key(k).cloned()).collect::<Result<Vec<_>, _>>()?;
            lists.insert(entry.key(), chain);
        }
        Ok(Self { lists })
    }

    /// `entry` followed by its fallbacks, each once.
    pub fn chain(&self, entry: &ModelEntry) -> Vec<ModelEntry> {
        let mut chain = vec![entry.clone()];
        for fallback in self.lists.get(&entry.key()).into_iter().flatten() {
            if !chain.iter().any(|e| e.key() == fallback.key()) {
                chain.push(fallback.clone());
            }
        }
        chain
    }
}

/// The error after trying `failures` (one per model, in order): the only failure itself when a
/// single model was tried, otherwise `AllFailed` listing each.
pub fn all_failed(mut failures: Vec<ModelError>) -> ModelError {
    if failures.len() == 1
        && let Some(only) = failures.pop()
    {
        return only;
    }
    let names: Vec<String> = failures.iter().map(|f| format!("{}/{}", f.provider, f.model)).collect();
    let mut error = ModelError::new(ModelErrorKind::AllFailed, "", "", format!("tried {} in order", names.join(", ")));
    error.attempts = failures;
    error
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aae_types::Provider;

    use super::*;

    #[test]
    fn default_chain_is_claude_then_qwen() {
        let catalog = ModelCatalog::builtin();
        let config = BTreeMap::from([(
            "bedrock/claude-4.5-sonnet".to_owned(),
            vec![
                "bedrock/qwen3".to_owned(),
                "bedrock/claude-4.5-sonnet".to_owned(),
                "gemini/gemini-2.5-pro".to_owned(),
            ],
        )]);
        let table = FallbackTable::new(&catalog, &config).unwrap();
        let claude = catalog.get(Provider::Bedrock, "claude-4.5-sonnet").unwrap();
        let keys: Vec<String> = table.chain(claude).iter().map(ModelEntry::key).collect();
        assert_eq!(keys, ["bedrock/claude-4.5-sonnet", "bedrock/qwen3", "gemini/gemini-2.5-pro"]);
        let flash = catalog.get(Provider::Gemini, "gemini-2.5-flash").unwrap();
        assert_eq!(table.chain(flash).len(), 1);
        let bad = BTreeMap::from([("bedrock/claude-4.5-sonnet".to_owned(), vec!["bedrock/gpt".to_owned()])]);
        assert!(FallbackTable::new(&catalog, &bad).unwrap_err().to_string().contains("allowed models"));
    }
}
