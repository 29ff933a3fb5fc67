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

/// A JWKS server whose keys can change, counting downloads.
struct Jwks {
    keys: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    downloads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    url: String,
}

async fn jwks_server() -> Jwks {
    use std::sync::atomic::Ordering;
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let downloads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/pool/.well-known/jwks.json",
        axum::routing::get({
            let keys = std::sync::Arc::clone(&keys);
            let downloads = std::sync::Arc::clone(&downloads);
            move || {
                downloads.fetch_add(1, Ordering::SeqCst);
                let keys = keys.lock().expect("keys").clone();
                async move { axum::Json(serde_json::json!({ "keys": keys })) }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/pool/.well-known/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Jwks { keys, downloads, url }
}

struct Key {
    encoding: jsonwebtoken::EncodingKey,
    jwk: serde_json::Value,
}

fn rsa_key(kid: &str) -> Key {
    use base64::Engine as _;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa key");
    let pem = private.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).expect("pem");
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = serde_json::json!({
        "kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
        "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be()),
    });
    Key { encoding: jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).expect("key"), jwk }
}

fn token(key: &Key, kid: &str, claims: &serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

#[tokio::test]
async fn signing_keys_are_cached_and_fetched_again_for_an_unknown_kid() {
    use std::sync::atomic::Ordering;
    let jwks = jwks_server().await;
    let (a, b) = (rsa_key("a"), rsa_key("b"));
    jwks.keys.lock().expect("keys").push(a.jwk.clone());
    let app = spawn_app_with(
        Engine::Sqlite,
        vec![
            ("auth.mode", "cognito".to_owned()),
            ("auth.cognito.user_pool_id", "ca-central-1_TestPool".to_owned()),
            ("auth.cognito.client_ids", "client-1".to_owned()),
            ("auth.cognito.issuer", "https://issuer.example.com/pool".to_owned()),
            ("auth.cognito.jwks_url", jwks.url.clone()),
            ("auth.cognito.jwks_min_refresh_secs", "1".to_owned()),
        ],
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "sub": "user-1", "iss": "https://issuer.example.com/pool", "token_use": "access", "client_id": "client-1",
        "exp": now + 600, "iat": now, "username": "ana", "cognito:groups": ["admin"],
    });
    let status = |token: String| {
        let request = app.http.get(app.url("/api/v1/campaigns/aws/stats")).bearer_auth(token);
        async move { request.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(status(token(&a, "a", &claims)).await, 200, "admin group → admin");
    assert_eq!(status(token(&a, "a", &claims)).await, 200);
    assert_eq!(jwks.downloads.load(Ordering::SeqCst), 1, "the keys are cached");

    // The pool rotates: a token with the new kid makes the server download the keys again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    jwks.keys.lock().expect("keys").push(b.jwk.clone());
    assert_eq!(status(token(&b, "b", &claims)).await, 200);
    assert_eq!(jwks.downloads.load(Ordering::SeqCst), 2);
    // An unknown kid right after: refused without another download (jwks_min_refresh_secs).
    assert_eq!(status(token(&b, "zzz", &claims)).await, 401);
    assert_eq!(jwks.downloads.load(Ordering::SeqCst), 2);
    // A key's kid with another key's signature, a foreign client, another token_use, expiry.
    assert_eq!(status(token(&b, "a", &claims)).await, 401);
    let mut other = claims.clone();
    other["client_id"] = serde_json::json!("client-2");
    assert_eq!(status(token(&a, "a", &other)).await, 401);
    let mut refresh = claims.clone();
    refresh["token_use"] = serde_json::json!("refresh");
    assert_eq!(status(token(&a, "a", &refresh)).await, 401);
    let mut expired = claims.clone();
    expired["exp"] = serde_json::json!(now - 60);
    assert_eq!(status(token(&a, "a", &expired)).await, 401);
    // An ID token names its client in `aud`.
    let mut id = claims.clone();
    id["token_use"] = serde_json::json!("id");
    id["aud"] = serde_json::json!("client-1");
    id["email"] = serde_json::json!("ana@example.com");
    assert_eq!(status(token(&a, "a", &id)).await, 200);
    // HS256 with the public modulus as the secret (algorithm confusion) is refused.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("a".to_owned());
    let confused = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(a.jwk["n"].as_str().expect("n").as_bytes()),
    )
    .expect("sign");
    assert_eq!(status(confused).await, 401);
}
