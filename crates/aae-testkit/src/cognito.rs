//! [`CognitoPool`]: a Cognito user pool on the shared moto server, driven over the Cognito
//! Identity Provider JSON protocol (`X-Amz-Target: AWSCognitoIdentityProviderService.*`), with
//! users, groups and real RS256 tokens from `InitiateAuth` (`USER_PASSWORD_AUTH`). Moto serves
//! the pool's JWKS at `{endpoint}/{pool_id}/.well-known/jwks.json`, while its tokens' `iss`
//! names the real AWS host, so servers under test get the JWKS URL apart from the issuer.

use anyhow::Context;
use serde_json::{Value, json};

use crate::moto::Moto;

/// A user pool with one app client.
#[derive(Debug, Clone)]
pub struct CognitoPool {
    moto: Moto,
    http: reqwest::Client,
    /// The pool id, e.g. `us-east-1_AbCdEf123`.
    pub pool_id: String,
    /// The app client id.
    pub client_id: String,
}

/// Tokens from `InitiateAuth`.
#[derive(Debug, Clone)]
pub struct CognitoTokens {
    /// The access token (`token_use = access`, `client_id`).
    pub access_token: String,
    /// The ID token (`token_use = id`, `aud`, `email`).
    pub id_token: String,
}

impl CognitoPool {
    /// Creates a pool named `name` with an app client that allows `USER_PASSWORD_AUTH`.
    pub async fn create(moto: &Moto, name: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let mut pool = Self { moto: moto.clone(), http, pool_id: String::new(), client_id: String::new() };
        let created = pool.call("CreateUserPool", json!({"PoolName": name})).await?;
        pool.pool_id = created["UserPool"]["Id"].as_str().context("CreateUserPool: no id")?.to_owned();
        let client = pool
            .call(
                "CreateUserPoolClient",
                json!({"UserPoolId": pool.pool_id, "ClientName": "aae", "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
            )
            .await?;
        pool.client_id =
            client["UserPoolClient"]["ClientId"].as_str().context("CreateUserPoolClient: no id")?.to_owned();
        Ok(pool)
    }

    /// The issuer the pool's tokens carry (`https://cognito-idp.{region}.amazonaws.com/{pool}`).
    pub fn issuer(&self) -> String {
        format!("https://cognito-idp.{}.amazonaws.com/{}", self.moto.region(), self.pool_id)
    }

    /// Where moto serves the pool's signing keys.
    pub fn jwks_url(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", self.moto.endpoint(), self.pool_id)
    }

    /// Creates a confirmed user with a permanent password, in `groups` (created as needed).
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        password: &str,
        groups: &[&str],
    ) -> anyhow::Result<()> {
        self.call(
            "AdminCreateUser",
            json!({"UserPoolId": self.pool_id, "Username": username, "MessageAction": "SUPPRESS",
                   "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]}),
        )
        .await?;
        self.call(
            "AdminSetUserPassword",
            json!({"UserPoolId": self.pool_id, "Username": username, "Password": password, "Permanent": true}),
        )
        .await?;
        for group in groups {
            // A group that exists already is fine.
            let _ = self.call("CreateGroup", json!({"UserPoolId": self.pool_id, "GroupName": group})).await;
            self.call(
                "AdminAddUserToGroup",
                json!({"UserPoolId": self.pool_id, "Username": username, "GroupName": group}),
            )
            .await?;
        }
        Ok(())
    }

    /// Signs in with `USER_PASSWORD_AUTH`.
    pub async fn sign_in(&self, username: &str, password: &str) -> anyhow::Result<CognitoTokens> {
        let result = self
            .call(
                "InitiateAuth",
                json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": self.client_id,
                       "AuthParameters": {"USERNAME": username, "PASSWORD": password}}),
            )
            .await?;
        let auth = &result["AuthenticationResult"];
        Ok(CognitoTokens {
            access_token: auth["AccessToken"].as_str().context("no AccessToken")?.to_owned(),
            id_token: auth["IdToken"].as_str().context("no IdToken")?.to_owned(),
        })
    }

    async fn call(&self, action: &str, body: Value) -> anyhow::Result<Value> {
        // moto reads the region from the credential scope; it checks no signature.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/{}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0",
            crate::ACCESS_KEY,
            self.moto.region()
        );
        let response = self
            .http
            .post(self.moto.endpoint())
            .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{action}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header("authorization", authorization)
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("cognito {action}"))?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "cognito {action} answered {status}: {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}
