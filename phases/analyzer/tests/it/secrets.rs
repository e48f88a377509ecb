//! No secret leaks: credentials from `CNB_REGISTRY_AUTH` (Basic and Bearer), a docker
//! `config.json`, a credential helper and a token service's bearer token, each with a distinctive secret, through runs at
//! `-log-level debug` that succeed (with transient faults, 401s included), fail for good (every
//! manifest GET 500, every request 401) or are refused (a bearer token the registry does not
//! take). Neither the secret nor its base64 forms appear in any output or written file.

use std::path::Path;

use base64::Engine as _;
use cnb_test_support::fault_proxy::{Fault, FaultPlan, FaultProxy, Gateway, Kind};
use cnb_test_support::faults::assert_no_leak;
use cnb_test_support::registry::Registry;

use crate::harness::PhaseOutput;

const USER: &str = "cnb-user";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A basic-auth registry with a run index and an app image.
fn registry(password: &str) -> Registry {
    let reg = Registry::builder().basic_auth(USER, password).start();
    crate::harness::save_run_and_app(&reg);
    reg
}

fn analyze(layers: &Path, proxy: &FaultProxy, env: &[(String, String)]) -> PhaseOutput {
    crate::harness::analyzer("0.13", layers)
        .through(proxy)
        .args(["-arch", "amd64"])
        .args(["-run-image", &format!("{}/cnb/run:multi", proxy.host())])
        .arg(format!("{}/cnb/app:latest", proxy.host()))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .run()
}

/// Runs the analyzer through the plans and checks that no form of `secret` leaks.
/// `expect_ok`: whether the credential is one the registry takes.
fn no_leak(
    case: &str,
    secret: &str,
    password: &str,
    env: &dyn Fn(&str) -> Vec<(String, String)>,
    expect_ok: bool,
) {
    no_leak_with(case, secret, password, env, expect_ok, None);
}

fn no_leak_with(
    case: &str,
    secret: &str,
    password: &str,
    env: &dyn Fn(&str) -> Vec<(String, String)>,
    expect_ok: bool,
    gateway: Option<Gateway>,
) {
    let reg = registry(password);
    let mut forms = vec![
        secret.to_string(),
        b64(secret),
        b64(&format!("{USER}:{secret}")),
        password.to_string(),
        b64(&format!("{USER}:{password}")),
    ];
    if let Some(g) = &gateway {
        forms.push(g.token.clone());
        forms.push(b64(&g.token));
    }
    let plans = [
        FaultPlan::Seeded {
            seed: 11,
            rate: 0.3,
            faults: vec![Fault::Unauthorized, Fault::Status(500), Fault::Reset],
            kinds: Kind::FAULTABLE.to_vec(),
        },
        FaultPlan::Always {
            kind: Some(Kind::ManifestGet),
            fault: Fault::Status(500),
        },
        FaultPlan::Always {
            kind: None,
            fault: Fault::Unauthorized,
        },
    ];
    for (i, plan) in plans.into_iter().enumerate() {
        let with_gateway = gateway.clone().map(|mut g| {
            g.upstream = reg.basic_header().unwrap();
            g
        });
        let proxy = FaultProxy::start_with(reg.host(), plan, with_gateway);
        let layers = tempfile::tempdir().unwrap();
        let out = analyze(layers.path(), &proxy, &env(proxy.host()));
        match (i, expect_ok) {
            (0, true) => {
                out.assert_ok();
            }
            (0, false) => assert!(!out.status.success(), "{case}: {}", out.text()),
            _ => {
                out.assert_exit(32);
            }
        }
        if i == 0 && gateway.is_some() {
            let tokens = proxy.stats().requests.get(&Kind::Token).copied();
            assert!(tokens.unwrap_or(0) > 0, "{case}: no token was asked for");
        }
        assert_no_leak(
            &format!("{case} plan {i}"),
            &forms,
            &out.text(),
            layers.path(),
        );
    }
}

#[test]
fn cnb_registry_auth_basic_never_leaks() {
    let pw = "pw-CNB-AUTH-basic-5f1e";
    no_leak(
        "CNB_REGISTRY_AUTH basic",
        pw,
        pw,
        &|host| {
            vec![(
                "CNB_REGISTRY_AUTH".into(),
                format!(r#"{{"{host}":"Basic {}"}}"#, b64(&format!("{USER}:{pw}"))),
            )]
        },
        true,
    );
}

#[test]
fn cnb_registry_auth_bearer_never_leaks() {
    // the registry takes basic only: the token is refused, on every path
    no_leak(
        "CNB_REGISTRY_AUTH bearer",
        "tok-CNB-AUTH-bearer-77a3",
        "pw-unused-bearer-1b2c",
        &|host| {
            vec![(
                "CNB_REGISTRY_AUTH".into(),
                format!(r#"{{"{host}":"Bearer tok-CNB-AUTH-bearer-77a3"}}"#),
            )]
        },
        false,
    );
}

#[test]
fn docker_config_auth_never_leaks() {
    let pw = "pw-docker-config-9c4d";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().to_path_buf();
    no_leak(
        "docker config auths",
        pw,
        pw,
        &|host| {
            std::fs::write(
                config.join("config.json"),
                format!(
                    r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
                    b64(&format!("{USER}:{pw}"))
                ),
            )
            .unwrap();
            vec![("DOCKER_CONFIG".into(), config.display().to_string())]
        },
        true,
    );
}

#[test]
fn a_credential_helper_secret_never_leaks() {
    let pw = "pw-cred-helper-e83a";
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-cnbtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  get) read server; printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{pw}\"}}' \"$server\";;\n  list) printf '{{}}';;\nesac\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().to_path_buf();
    no_leak(
        "credential helper",
        pw,
        pw,
        &|host| {
            std::fs::write(
                config.join("config.json"),
                format!(r#"{{"credHelpers":{{"{host}":"cnbtest"}}}}"#),
            )
            .unwrap();
            vec![
                ("DOCKER_CONFIG".into(), config.display().to_string()),
                ("PATH".into(), format!("{}:/usr/bin:/bin", bin.display())),
            ]
        },
        true,
    );
}

#[test]
fn a_token_from_a_token_service_never_leaks() {
    // basic credentials are exchanged for a bearer token at the proxy's token service
    let pw = "pw-token-client-40d2";
    let basic = format!("Basic {}", b64(&format!("{USER}:{pw}")));
    no_leak_with(
        "token service",
        pw,
        "pw-token-upstream-6e0f",
        &|host| {
            vec![(
                "CNB_REGISTRY_AUTH".into(),
                format!(r#"{{"{host}":"{basic}"}}"#),
            )]
        },
        true,
        Some(Gateway {
            client: basic.clone(),
            upstream: String::new(),
            token: "tok-issued-by-service-a91b".into(),
            generation: 0,
        }),
    );
}
