//! `auth.mode = cognito` against moto's Cognito: its RS256 access and ID tokens are accepted,
//! the user is created on first sight, the admin group makes an admin; a token of another pool
//! (same signing key on moto, other issuer) and local sign-in are refused.

use aae_testkit::{CognitoPool, Engine, moto};

use crate::helpers::{error_code, json_of, spawn_app_with};

#[tokio::test]
async fn tokens_of_the_configured_pool_are_accepted_and_others_refused() {
    let moto = moto().await.expect("moto");
    let pool = CognitoPool::create(&moto, "aae-users").await.expect("pool");
    let other = CognitoPool::create(&moto, "someone-elses").await.expect("other pool");
    pool.create_user("ana", "ana@example.com", "Passw0rd!x", &[]).await.expect("ana");
    pool.create_user("root", "root@example.com", "Passw0rd!x", &["admin"]).await.expect("root");
    other.create_user("eve", "eve@example.com", "Passw0rd!x", &["admin"]).await.expect("eve");

    let app = spawn_app_with(
        Engine::Sqlite,
        vec![
            ("auth.mode", "cognito".to_owned()),
            ("auth.cognito.user_pool_id", pool.pool_id.clone()),
            ("auth.cognito.client_ids", pool.client_id.clone()),
            ("auth.cognito.region", moto.region().to_owned()),
            ("auth.cognito.jwks_url", pool.jwks_url()),
        ],
    )
    .await;
    let get = |token: String, path: &'static str| {
        let request = app.http.get(app.url(path)).bearer_auth(token);
        async move { request.send().await.expect("request") }
    };

    let ana = pool.sign_in("ana", "Passw0rd!x").await.expect("sign in");
    let profile = json_of(get(ana.access_token.clone(), "/api/v1/auth/profile").await, 200).await;
    assert_eq!(profile["role"], "user");
    let id_profile = json_of(get(ana.id_token.clone(), "/api/v1/auth/profile").await, 200).await;
    assert_eq!(id_profile["id"], profile["id"], "access and ID tokens are the same user");
    // moto's tokens carry no `email` claim (Cognito's ID tokens do): the user name stands in.
    assert_eq!(id_profile["email"], "ana");
    assert_eq!(
        error_code(get(ana.access_token.clone(), "/api/v1/campaigns/aws/stats").await, 403).await,
        "access_denied"
    );

    let root = pool.sign_in("root", "Passw0rd!x").await.expect("sign in");
    json_of(get(root.access_token.clone(), "/api/v1/campaigns/aws/stats").await, 200).await;

    // Another pool's token: same key on moto, another issuer.
    let eve = other.sign_in("eve", "Passw0rd!x").await.expect("sign in");
    assert_eq!(error_code(get(eve.access_token, "/api/v1/auth/profile").await, 401).await, "unauthenticated");
    assert_eq!(error_code(get(eve.id_token, "/api/v1/auth/profile").await, 401).await, "unauthenticated");
    // A tampered Cognito token.
    let mut parts: Vec<String> = ana.access_token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_eq!(error_code(get(parts.join("."), "/api/v1/auth/profile").await, 401).await, "unauthenticated");
    // Local accounts are off in this mode.
    let register = app
        .http
        .post(app.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "x@example.com", "password": "long enough pw"}))
        .send()
        .await
        .expect("register");
    assert_eq!(error_code(register, 404).await, "not_found");
}
