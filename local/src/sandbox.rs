//! The launcher as a child process: started on free loopback ports, read through its one JSON
//! ready line, stopped when dropped (its standard input closes, and it is killed).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
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

/// A running sandbox. Dropping it stops it.
pub struct Sandbox {
    pub info: SandboxInfo,
    process: Process,
    pub log: PathBuf,
}

/// How a sandbox runs: a launcher of its own, or a child of a [`ForkServer`].
enum Process {
    /// Stopped when its standard input closes; killed when dropped.
    Launched { child: Child, _stdin: ChildStdin },
    /// Stopped when its connection closes, which dropping it does (never by pid: the fork
    /// server's children are reaped as they exit, and their pids may be another's by then).
    Forked { connection: TcpStream },
}

/// The Python program `python -m <module> --template template.yaml <args>` of the repository
/// at `root`, its standard error in `log`, started and read up to its first line.
fn spawn(
    root: &Path,
    module: &str,
    args: &[String],
    log: &Path,
) -> Result<(Child, ChildStdin, String), SandboxError> {
    let python = root.join(".venv/bin/python");
    let log_file = std::fs::File::create(log)
        .map_err(|e| SandboxError::Spawn(log.display().to_string(), e))?;
    let mut child = Command::new(&python)
        .args(["-m", module, "--template"])
        .arg(root.join("template.yaml"))
        .args(args)
        .current_dir(root.join("local"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .map_err(|e| SandboxError::Spawn(python.display().to_string(), e))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    if read.is_err() || line.trim().is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SandboxError::NotReady(log.to_path_buf()));
    }
    Ok((child, stdin, line))
}

/// A new log file's path under `root`'s `target/sandbox/`.
fn log_path(root: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    let log_dir = root.join("target/sandbox");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| SandboxError::Spawn(log_dir.display().to_string(), e))?;
    Ok(log_dir.join(format!("{what}-{}-{}.log", std::process::id(), unique())))
}

impl Sandbox {
    /// Starts the launcher of the repository at `root` (which has `.venv/`, `local/` and
    /// `template.yaml`); it stops itself after `lifetime_seconds` at the latest.
    pub fn start(root: &Path, lifetime_seconds: u64) -> Result<Sandbox, SandboxError> {
        let log = log_path(root, "launcher")?;
        let args = ["--lifetime".to_string(), lifetime_seconds.to_string()];
        let (child, stdin, line) = spawn(root, "sandbox.launcher", &args, &log)?;
        let info = serde_json::from_str(&line).map_err(SandboxError::ReadyLine)?;
        Ok(Sandbox {
            info,
            process: Process::Launched {
                child,
                _stdin: stdin,
            },
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
        match &mut self.process {
            Process::Launched { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            // The child reads its connection to the end and stops there.
            Process::Forked { connection } => {
                let _ = connection.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// How long a forked sandbox may take to be ready (it takes about 50 ms; a loaded machine is
/// given far more) before the test is told it did not start.
const FORK_READY_SECONDS: u64 = 60;

/// A sandbox bootstrapped once and forked for each sandbox asked of it (`sandbox/forkserver.py`):
/// each starts in about 50 ms from the same deployed state instead of about 3 s, and shares
/// nothing with another. For a process that starts many sandboxes (the end-to-end tests).
/// Dropping it stops it; the sandboxes it forked run until they are dropped.
pub struct ForkServer {
    address: String,
    root: PathBuf,
    child: Child,
    _stdin: ChildStdin,
    pub log: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForkServerReady {
    fork_server: String,
}

impl ForkServer {
    /// Starts the fork server of the repository at `root` (the same layout as
    /// [`Sandbox::start`]'s); returns once it has deployed the stacks and listens.
    pub fn start(root: &Path) -> Result<ForkServer, SandboxError> {
        let log = log_path(root, "forkserver")?;
        let (child, stdin, line) = spawn(root, "sandbox.forkserver", &[], &log)?;
        let ready: ForkServerReady =
            serde_json::from_str(&line).map_err(SandboxError::ReadyLine)?;
        Ok(ForkServer {
            address: ready.fork_server,
            root: root.to_path_buf(),
            child,
            _stdin: stdin,
            log,
        })
    }

    /// A new sandbox, which stops itself after `lifetime_seconds` at the latest.
    pub fn sandbox(&self, lifetime_seconds: u64) -> Result<Sandbox, SandboxError> {
        use std::io::Write;
        let log = log_path(&self.root, "sandbox")?;
        // A child that fails before its log is open writes to the fork server's.
        let not_ready = || {
            let written = std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
            SandboxError::NotReady(if written {
                log.clone()
            } else {
                self.log.clone()
            })
        };
        let mut connection = TcpStream::connect(&self.address).map_err(|_| not_ready())?;
        connection
            .set_read_timeout(Some(std::time::Duration::from_secs(FORK_READY_SECONDS)))
            .map_err(|_| not_ready())?;
        let request = serde_json::json!({ "lifetime": lifetime_seconds, "log": log });
        writeln!(connection, "{request}").map_err(|_| not_ready())?;
        let mut line = String::new();
        BufReader::new(connection.try_clone().map_err(|_| not_ready())?)
            .read_line(&mut line)
            .map_err(|_| not_ready())?;
        if line.trim().is_empty() {
            return Err(not_ready());
        }
        connection.set_read_timeout(None).map_err(|_| not_ready())?;
        let info: SandboxInfo = serde_json::from_str(&line).map_err(SandboxError::ReadyLine)?;
        Ok(Sandbox {
            process: Process::Forked { connection },
            info,
            log,
        })
    }
}

impl Drop for ForkServer {
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
