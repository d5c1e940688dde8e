//! The launcher as a child process: started on free loopback ports, read through its one JSON
//! ready line, stopped when dropped (its standard input closes, and it is killed).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use aws_types::SdkConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionInfo {
    /// The function's name (`ferry-plan`, ...); the sandbox keys functions by ARN, since every
    /// source account has its own `ferry-source-access`.
    pub name: String,
    pub account: String,
    pub binary: String,
    pub arn: String,
    pub environment: BTreeMap<String, String>,
    /// The function's execution role (the template's), whose session it calls AWS with.
    pub role: String,
    /// That session's credentials, as Lambda hands them to the function.
    pub credentials: Credentials,
}

/// What the launcher prints when it is ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    pub endpoint: String,
    pub region: String,
    pub accounts: BTreeMap<String, String>,
    pub credentials: BTreeMap<String, Credentials>,
    pub control: String,
    /// The primary destination account's state machine.
    pub state_machine_arn: String,
    /// Each destination account's state machine, by account.
    pub state_machines: BTreeMap<String, String>,
    /// Every function of every stack, by ARN.
    pub functions: BTreeMap<String, FunctionInfo>,
    /// The source account's KMS keys its stack lists in `SourceKmsKeyArns`: `source` (KMS's
    /// default key policy) and `sourceWithoutGrants` (a policy that lets only the account's
    /// administrator role in).
    #[serde(default)]
    pub kms_keys: BTreeMap<String, String>,
    pub pid: u32,
}

impl SandboxInfo {
    pub fn source_account(&self) -> &str {
        &self.accounts["source"]
    }

    pub fn destination_account(&self) -> &str {
        &self.accounts["destination"]
    }

    /// The account that holds both sides: a second source of the destination account and a
    /// second destination of the source account.
    pub fn third_account(&self) -> &str {
        &self.accounts["third"]
    }

    /// The state machine of the destination stack in `account`.
    pub fn state_machine_of(&self, account: &str) -> &str {
        self.state_machines
            .get(account)
            .unwrap_or_else(|| panic!("the sandbox has no destination stack in {account}"))
    }

    /// The function `name` of the stack in `account`.
    pub fn function(&self, account: &str, name: &str) -> &FunctionInfo {
        self.functions
            .values()
            .find(|f| f.account == account && f.name == name)
            .unwrap_or_else(|| panic!("the sandbox has no function {name} in {account}"))
    }

    /// An SDK configuration that acts in `account` of the sandbox.
    pub fn sdk_config(&self, account: &str) -> SdkConfig {
        let side = self
            .accounts
            .iter()
            .find(|(_, a)| *a == account)
            .map(|(side, _)| side.as_str())
            .unwrap_or_else(|| panic!("the sandbox has no account {account}"));
        self.sdk_config_as(&self.credentials[side])
    }

    /// An SDK configuration that calls the sandbox with `c` (a function's role session).
    pub fn sdk_config_as(&self, c: &Credentials) -> SdkConfig {
        ferry_core::clients::static_session_config(
            &self.endpoint,
            &self.region,
            &c.access_key_id,
            &c.secret_access_key,
            &c.session_token,
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("starting the sandbox launcher ({0}): {1}; run `make test` or `make .venv/.installed` first, which installs it")]
    Spawn(String, std::io::Error),
    #[error("the sandbox launcher exited before it was ready; its log is {0}")]
    NotReady(PathBuf),
    #[error("the sandbox's ready line is not what ferry expects: {0}")]
    ReadyLine(serde_json::Error),
    #[error("control API {0}: {1}")]
    Control(String, String),
}

/// A running sandbox. Dropping it stops the launcher.
pub struct Sandbox {
    pub info: SandboxInfo,
    child: Child,
    _stdin: ChildStdin,
    pub log: PathBuf,
}

impl Sandbox {
    /// Starts the launcher of the repository at `root` (which has `.venv/`, `local/` and
    /// `template.yaml`); it stops itself after `lifetime_seconds` at the latest.
    pub fn start(root: &Path, lifetime_seconds: u64) -> Result<Sandbox, SandboxError> {
        let python = root.join(".venv/bin/python");
        let log_dir = root.join("target/sandbox");
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| SandboxError::Spawn(log_dir.display().to_string(), e))?;
        let log = log_dir.join(format!("launcher-{}-{}.log", std::process::id(), unique()));
        let log_file = std::fs::File::create(&log)
            .map_err(|e| SandboxError::Spawn(log.display().to_string(), e))?;
        let mut child = Command::new(&python)
            .args(["-m", "sandbox.launcher", "--template"])
            .arg(root.join("template.yaml"))
            .args(["--lifetime", &lifetime_seconds.to_string()])
            .current_dir(root.join("local"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| SandboxError::Spawn(python.display().to_string(), e))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|_| SandboxError::NotReady(log.clone()))?;
        if line.trim().is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SandboxError::NotReady(log));
        }
        let info = serde_json::from_str(&line).map_err(SandboxError::ReadyLine)?;
        Ok(Sandbox {
            info,
            child,
            _stdin: stdin,
            log,
        })
    }

    /// Calls the control API: `POST <control><path>` with a JSON body.
    pub async fn control(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, SandboxError> {
        http_json(&self.info.control, "POST", path, Some(body)).await
    }

    /// `GET <control><path>`: `/jobs` (the Batch Operations jobs), `/inventory` (delivery
    /// settings and events).
    pub async fn get(&self, path: &str) -> Result<serde_json::Value, SandboxError> {
        http_json(&self.info.control, "GET", path, None).await
    }

    /// The jobs the sandbox's Batch Operations know of.
    pub async fn jobs(&self) -> Result<serde_json::Value, SandboxError> {
        self.get("/jobs").await
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A minimal HTTP/1.1 JSON call to the control API on loopback.
async fn http_json(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, SandboxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let err = |e: String| SandboxError::Control(path.to_string(), e);
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| err(e.to_string()))?;
    let data = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{data}",
        data.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| err(e.to_string()))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| err(e.to_string()))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| err("no HTTP response".into()))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(err(head.lines().next().unwrap_or("").to_string()));
    }
    serde_json::from_str(body).map_err(|e| err(e.to_string()))
}
