//! Local accounts: registration rules, tokens refused when expired, tampered, unsigned
//! (`alg: none`) or from another issuer, refresh rotation with reuse detection, logout.

use aae_testkit::Engine;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{App, error_code, json_of, spawn_app};

fn signing_key(app: &App) -> Vec<u8> {
    aae_storage::load_or_create_secret(&app.config.data_dir, "jwt").expect("key")
}

fn sign(app: &App, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(&signing_key(app)))
        .expect("sign")
}

async fn status_with(app: &App, token: &str) -> u16 {
    app.http.get(app.url("/api/v1/auth/profile")).bearer_auth(token).send().await.expect("profile").status().as_u16()
}

#[tokio::test]
async fn registration_checks_its_input_and_refuses_duplicates() {
    let app = spawn_app(Engine::Sqlite).await;
    let register = |body: Value| app.http.post(app.url("/api/v1/auth/register")).json(&body).send();
    let created = json_of(
        register(json!({"email": "Ana@Example.com", "password": "long enough pw"})).await.expect("register"),
        201,
    )
    .await;
    assert_eq!(created["role"], "user");
    assert!(created.get("password").is_none());
    let duplicate =
        register(json!({"email": "ana@example.com", "password": "long enough pw"})).await.expect("register");
    assert_eq!(error_code(duplicate, 409).await, "conflict");
    for bad in [
        json!({"email": "not-an-email", "password": "long enough pw"}),
        json!({"email": "b@example.com", "password": "short"}),
        json!({"email": "b@example.com"}),
        json!({"email": "b@example.com", "password": "long enough pw", "admin": true}),
    ] {
        assert_eq!(error_code(register(bad.clone()).await.expect("register"), 400).await, "invalid_input", "{bad}");
    }
    let not_json = app.http.post(app.url("/api/v1/auth/register")).body("email=a").send().await.expect("register");
    assert_eq!(error_code(not_json, 400).await, "invalid_input");
    // Wrong password and unknown account answer the same.
    for (email, password) in [("ana@example.com", "wrong password"), ("nobody@example.com", "long enough pw")] {
        let response = app
            .http
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(error_code(response, 401).await, "unauthenticated");
    }
    let tokens = app.login("ANA@example.com", "long enough pw").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
}

#[tokio::test]
async fn expired_tampered_unsigned_and_foreign_tokens_are_refused() {
    let app = spawn_app(Engine::Sqlite).await;
    let ana = app.user("ana").await;
    assert_eq!(status_with(&app, &ana.token).await, 200);
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, iss: &str| json!({"sub": ana.id, "iss": iss, "aud": "aae-api", "exp": exp, "iat": now - 100, "jti": "t1", "email": ana.email, "role": "user"});
    // Expired (past the 5 s leeway).
    assert_eq!(status_with(&app, &sign(&app, &claims(now - 60, "aae"))).await, 401);
    // Another issuer, same key.
    assert_eq!(status_with(&app, &sign(&app, &claims(now + 600, "someone-else"))).await, 401);
    // Tampered: the payload says admin, the signature is the original's.
    let parts: Vec<&str> = ana.token.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    payload["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    assert_eq!(status_with(&app, &tampered).await, 401);
    // alg: none, no signature.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims(now + 600, "aae").to_string()));
    assert_eq!(status_with(&app, &unsigned).await, 401);
    // Signed with another key.
    let other = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(now + 600, "aae"),
        &EncodingKey::from_secret(b"another key that is long enough!!"),
    )
    .expect("sign");
    assert_eq!(status_with(&app, &other).await, 401);
    // Garbage and missing headers.
    assert_eq!(status_with(&app, "garbage").await, 401);
    let missing = app.http.get(app.url("/api/v1/auth/profile")).send().await.expect("profile");
    assert_eq!(error_code(missing, 401).await, "unauthenticated");
    // A valid token signed with the server's key works: the checks above are what failed.
    assert_eq!(status_with(&app, &sign(&app, &claims(now + 600, "aae"))).await, 200);
}

#[tokio::test]
async fn refresh_tokens_rotate_replays_sign_out_everywhere_and_logout_revokes() {
    let app = spawn_app(Engine::Sqlite).await;
    let ana = app.user("ana").await;
    let refresh =
        |token: String| app.http.post(app.url("/api/v1/auth/refresh")).json(&json!({"refresh_token": token})).send();
    let second = json_of(refresh(ana.refresh.clone()).await.expect("refresh"), 200).await;
    let second_refresh = second["refresh_token"].as_str().expect("refresh").to_owned();
    assert_ne!(second_refresh, ana.refresh);
    assert_eq!(status_with(&app, second["access_token"].as_str().expect("access")).await, 200);
    // Replaying the used token is refused and revokes the newer one too.
    assert_eq!(error_code(refresh(ana.refresh.clone()).await.expect("replay"), 401).await, "unauthenticated");
    assert_eq!(error_code(refresh(second_refresh).await.expect("revoked"), 401).await, "unauthenticated");

    // Logout revokes the access token it is called with and the refresh token it is given.
    let tokens = app.login(&ana.email, "correct horse battery").await;
    let access = tokens["access_token"].as_str().expect("access");
    let logout = app
        .http
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(access)
        .json(&json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    assert_eq!(status_with(&app, access).await, 401);
    assert_eq!(
        error_code(refresh(tokens["refresh_token"].as_str().expect("r").to_owned()).await.expect("refresh"), 401).await,
        "unauthenticated"
    );
    // Other sessions are unaffected.
    assert_eq!(status_with(&app, &ana.token).await, 200);
}
