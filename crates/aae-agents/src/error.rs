//! [`AgentError`], the error of an agent run.

use aae_models::ModelError;
use aae_store::StoreError;
use aae_types::ErrorCode;
use uuid::Uuid;

/// Why an agent run failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The model call failed after the router's retries and fallbacks.
    #[error("agent {agent}: {source}")]
    Model {
        /// The agent.
        agent: String,
        /// The router's error (boxed: it carries every fallback attempt).
        #[source]
        source: Box<ModelError>,
    },
    /// The model kept calling tools past the turn limit.
    #[error("agent {agent} reached its limit of {max_turns} turns without answering")]
    TurnLimit {
        /// The agent.
        agent: String,
        /// The limit.
        max_turns: u32,
    },
    /// The agent was misconfigured (duplicate tool names, an invalid tool schema…).
    #[error("agent {agent} is misconfigured: {message}")]
    Config {
        /// The agent.
        agent: String,
        /// What is wrong.
        message: String,
    },
    /// A conversation's stored history could not be read or written (or a stored message does
    /// not decode).
    #[error("conversation {conversation}: {source}")]
    Conversation {
        /// The conversation.
        conversation: Uuid,
        /// The record store's error.
        #[source]
        source: StoreError,
    },
    /// The run was cancelled.
    #[error("agent {agent} was cancelled")]
    Cancelled {
        /// The agent.
        agent: String,
    },
}

impl AgentError {
    /// The closed code the HTTP layer maps to a status.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Model { source, .. } => source.code(),
            Self::Conversation { source, .. } => source.code(),
            Self::TurnLimit { .. } | Self::Config { .. } => ErrorCode::Internal,
            Self::Cancelled { .. } => ErrorCode::Unavailable,
        }
    }
}

/// Result of an agent run.
pub type AgentResult<T> = Result<T, AgentError>;
