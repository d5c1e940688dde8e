//! `ferry list`: the recent copies, or every execution.

use crate::runs::{self, Run};
use crate::target::Target;
use crate::Result;

/// `ferry list`: the most recent copies, one line each (its latest run, how it ended, its
/// cleanup); `--executions` lists every execution instead. Newest first.
pub async fn list(target: &Target, max: usize, executions: bool) -> Result<i32> {
    let limit = if executions { max } else { usize::MAX };
    let runs = runs::list(target, None, limit).await?;
    if runs.is_empty() {
        println!("no ferry executions on {}", target.state_machine_arn);
        return Ok(0);
    }
    print!(
        "{}",
        if executions {
            render_executions(&runs)
        } else {
            render_copies(&runs, max)
        }
    );
    Ok(0)
}

fn ended(r: &Run) -> String {
    r.stopped
        .map(ferry_core::clock::format_timestamp)
        .unwrap_or_else(|| "-".into())
}

pub fn render_executions(runs: &[Run]) -> String {
    let mut out = format!(
        "{:<40} {:<10} {:<22} {:<22}\n",
        "EXECUTION", "STATUS", "STARTED", "ENDED"
    );
    for r in runs {
        out.push_str(&format!(
            "{:<40} {:<10} {:<22} {:<22}\n",
            r.name.to_string(),
            r.status.as_str(),
            r.started_text(),
            ended(r)
        ));
    }
    out
}

/// One line per copy, newest first: runs so far, the latest run's state, and its cleanup's.
pub fn render_copies(runs: &[Run], max: usize) -> String {
    let mut order: Vec<&str> = Vec::new();
    for r in runs {
        if !order.contains(&r.name.copy_id.as_str()) {
            order.push(&r.name.copy_id);
        }
    }
    let mut out = format!(
        "{:<28} {:>4}  {:<10} {:<22} {:<22} {}\n",
        "COPY", "RUNS", "LATEST", "STARTED", "ENDED", "CLEANUP"
    );
    for copy in order.into_iter().take(max) {
        let of_copy: Vec<&Run> = runs.iter().filter(|r| r.name.copy_id == copy).collect();
        let Some(latest) = of_copy
            .iter()
            .filter(|r| !r.name.cleanup)
            .max_by_key(|r| r.name.number)
        else {
            continue;
        };
        let cleanup = of_copy
            .iter()
            .find(|r| r.name.cleanup && r.name.number == latest.name.number)
            .map(|c| format!("{} {}", c.name, c.status.as_str()))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<28} {:>4}  {:<10} {:<22} {:<22} {}\n",
            copy,
            latest.name.number,
            latest.status.as_str(),
            latest.started_text(),
            ended(latest),
            cleanup
        ));
    }
    out
}
