//! The test kit: starts the real `mscommerce server --dev` on a free port with its own data folder,
//! and drives it through real HTTP and the real `mscommerce` binary.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

pub const POLICY: &str = "AllowSelfServicePurchase";

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_mscommerce")
}

#[derive(Debug, Deserialize, Clone)]
pub struct DevUser {
    pub upn: String,
    pub password: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct DevTenant {
    pub id: String,
    pub domain: String,
    pub users: Vec<DevUser>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct CheckoutCredential {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct DevCredentials {
    pub operator_token: String,
    pub checkout_credential: CheckoutCredential,
    pub tenants: Vec<DevTenant>,
}

/// Which storage the suite runs on: SQLite in the data folder, or (with
/// `MSCOMMERCE_TEST_POSTGRES=postgres://user@host:port`, set by scripts/test.sh) a fresh PostgreSQL
/// database per test in the throwaway cluster the script started.
fn database_args() -> Vec<String> {
    let Ok(base) = std::env::var("MSCOMMERCE_TEST_POSTGRES") else {
        return vec![];
    };
    let name = format!("t_{}", uuid_like());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
            .await
            .expect("the test cluster answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
    });
    vec!["--database".into(), format!("{base}/{name}")]
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        nanos % 1_000_000_000
    )
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    /// `--database …` when the suite runs on PostgreSQL; kept across restarts.
    db_args: Vec<String>,
    pub url: String,
    pub credentials: DevCredentials,
    /// What the server printed on standard output before it was ready.
    pub startup_output: String,
    child: Option<Child>,
    http: reqwest::blocking::Client,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// Starts a server with a configuration file holding `config` (TOML).
    pub fn start_with_config(config: &str, extra: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mscommerce.toml");
        std::fs::write(&path, config).unwrap();
        let mut args: Vec<&str> = vec!["--config", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        Self::start_in(dir, &args, database_args())
    }

    pub fn start_with(extra: &[&str]) -> TestServer {
        Self::start_in(
            tempfile::tempdir().expect("temp dir"),
            extra,
            database_args(),
        )
    }

    /// A server on SQLite in its data folder, whichever backend the suite runs on.
    pub fn start_on_sqlite() -> TestServer {
        Self::start_in(tempfile::tempdir().expect("temp dir"), &[], vec![])
    }

    /// A server on the given database, with `dir`'s data folder (and its dev credentials).
    pub fn start_on(dir: tempfile::TempDir, database: &str) -> TestServer {
        Self::start_in(dir, &[], vec!["--database".into(), database.into()])
    }

    /// A new, empty PostgreSQL database in the test cluster, when the suite runs on PostgreSQL.
    pub fn new_postgres_database() -> Option<String> {
        database_args().get(1).cloned()
    }

    /// Stops the server and hands over its folder, for a next server to start on.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        self.kill();
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str], db_args: Vec<String>) -> TestServer {
        let mut args: Vec<&str> = db_args.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        let (child, url, startup_output) = spawn(dir.path(), &args);
        let credentials = read_credentials(dir.path());
        TestServer {
            db_args,
            dir,
            url,
            credentials,
            startup_output,
            child: Some(child),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Whether the suite runs on PostgreSQL (where servers can share a database).
    pub fn on_postgres() -> bool {
        std::env::var("MSCOMMERCE_TEST_POSTGRES").is_ok()
    }

    /// A second server process on the same database (another node), with its own data folder;
    /// `extra` should carry the same `--public-url` as the first, as nodes behind one load
    /// balancer do, so that tokens name one issuer.
    pub fn join(&self, extra: &[&str]) -> TestServer {
        assert!(
            !self.db_args.is_empty(),
            "nodes share a database only on PostgreSQL"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::copy(
            self.data_dir().join("dev-credentials.json"),
            dir.path().join("data/dev-credentials.json"),
        )
        .unwrap();
        let mut args: Vec<&str> = self.db_args.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        let (child, url, startup_output) = spawn(dir.path(), &args);
        TestServer {
            db_args: self.db_args.clone(),
            dir,
            url,
            credentials: self.credentials.clone(),
            startup_output,
            child: Some(child),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the server with SIGKILL: nothing gets a chance to flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM and answers its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running server");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait().unwrap()
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Starts the server again on the same data folder (and a new port).
    pub fn restart(&mut self) {
        self.kill();
        let args: Vec<&str> = self.db_args.iter().map(String::as_str).collect();
        let (child, url, startup_output) = spawn(self.dir.path(), &args);
        self.child = Some(child);
        self.url = url;
        self.startup_output = startup_output;
    }

    pub fn password(&self, upn: &str) -> String {
        self.credentials
            .tenants
            .iter()
            .flat_map(|t| &t.users)
            .find(|u| u.upn == upn)
            .unwrap_or_else(|| panic!("no demo user {upn}"))
            .password
            .clone()
    }

    pub fn tenant(&self, domain: &str) -> &DevTenant {
        self.credentials
            .tenants
            .iter()
            .find(|t| t.domain == domain)
            .unwrap()
    }

    /// An access token for a demo user, through the real token endpoint.
    pub fn token(&self, upn: &str) -> String {
        let domain = upn.split('@').nth(1).unwrap();
        let password = self.password(upn);
        let response = self
            .http
            .post(format!("{}/{domain}/oauth2/v2.0/token", self.url))
            .form(&[
                ("grant_type", "password"),
                ("username", upn),
                ("password", password.as_str()),
            ])
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "sign-in of {upn} failed");
        let body: Value = response.json().unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        Reply::from(request.send().unwrap())
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None)
    }

    pub fn put_value(&self, path: &str, token: &str, value: &str) -> Reply {
        self.request(
            "PUT",
            path,
            Some(token),
            Some(serde_json::json!({ "policyValue": value })),
        )
    }

    /// A call to the operator API with the operator token.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let token = self.credentials.operator_token.clone();
        self.request(method, &format!("/admin/v1{path}"), Some(&token), body)
    }

    /// A form POST to one of a tenant's OAuth endpoints (`token`, `devicecode`, `revoke`).
    pub fn oauth(&self, tenant: &str, endpoint: &str, form: &[(&str, &str)]) -> Reply {
        Reply::from(
            self.http
                .post(format!("{}/{tenant}/oauth2/v2.0/{endpoint}", self.url))
                .form(form)
                .send()
                .unwrap(),
        )
    }

    /// The key this server signs with, read from its database: for tests that must forge a
    /// token only the server could have made (expired, wrong audience).
    pub fn signing_key(&self) -> (String, Vec<u8>) {
        const NEWEST: &str =
            "SELECT kid, private_key FROM signing_keys ORDER BY created_at DESC LIMIT 1";
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Row;
            match self.db_args.get(1) {
                Some(url) => {
                    let pool = sqlx::PgPool::connect(url).await.unwrap();
                    let row = sqlx::query(NEWEST).fetch_one(&pool).await.unwrap();
                    (row.get::<String, _>(0), row.get::<Vec<u8>, _>(1))
                }
                None => {
                    let url = format!(
                        "sqlite://{}",
                        self.data_dir().join("mscommerce.db").display()
                    );
                    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                    let row = sqlx::query(NEWEST).fetch_one(&pool).await.unwrap();
                    (row.get::<String, _>(0), row.get::<Vec<u8>, _>(1))
                }
            }
        })
    }

    pub fn raw(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    /// The value a product or offer type has now, as admin@contoso.example reads it.
    pub fn value_of(&self, token: &str, path_under_policy: &str) -> String {
        let reply = self.get(
            &format!("/v1.0/policies/{POLICY}/{path_under_policy}"),
            token,
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json["policyValue"].as_str().unwrap().to_string()
    }

    /// A command-line client with its own configuration folder, pointed at this server.
    pub fn cli(&self) -> Cli {
        Cli {
            config: tempfile::tempdir().unwrap(),
            url: self.url.clone(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &Path, extra: &[&str]) -> (Child, String, String) {
    let data = dir.join("data");
    let mut child = Command::new(binary())
        .args(["server", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(extra)
        .env("MSCOMMERCE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(dir))
        .spawn()
        .expect("start mscommerce server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(url) = line.strip_prefix("mscommerce listening on ") {
                let _ = tx.send((url.to_string(), printed.clone()));
            }
        }
    });
    let (url, printed) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server printed its address within 60 s");
    (child, url, printed)
}

/// The server's log (its standard error), kept beside its data folder across restarts.
fn log_file(dir: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap()
}

fn read_credentials(dir: &Path) -> DevCredentials {
    let text = std::fs::read_to_string(dir.join("data/dev-credentials.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl From<reqwest::blocking::Response> for Reply {
    fn from(r: reqwest::blocking::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.json["errorCode"].as_str().unwrap_or("")
    }
    pub fn reason(&self) -> &str {
        self.json["reason"].as_str().unwrap_or("")
    }
}

pub struct Cli {
    pub config: tempfile::TempDir,
    pub url: String,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Cli {
    fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.env("MSCOMMERCE_CONFIG_DIR", self.config.path())
            .env("MSCOMMERCE_URL", &self.url)
            .env_remove("MSCOMMERCE_TOKEN")
            .env_remove("MSCOMMERCE_OUTPUT");
        c
    }

    /// Runs `mscommerce <args>` with `stdin` as its standard input.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = wait(child);
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, "")
    }

    /// Runs a command line written as in the seed document, split as a shell would split it.
    pub fn line(&self, line: &str) -> Run {
        let words = shlex::split(line).expect("a well-quoted line");
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        self.run(&args)
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command();
        c.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = wait(c.spawn().unwrap());
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    pub fn connect(&self, server: &TestServer, upn: &str) {
        let r = self.run_with_input(
            &["connect", "--username", upn, "--password-stdin"],
            &format!("{}\n", server.password(upn)),
        );
        assert_eq!(r.code, 0, "connect failed: {}", r.stderr);
    }
}

fn wait(child: Child) -> Output {
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the command hung"
    );
    out
}
