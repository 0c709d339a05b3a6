//! `[timing]`: Mesos's timeouts and intervals under their flag names
//! (`agent_ping_timeout`, `zk_session_timeout`, ...), overriding the defaults
//! of `Timing`, with the checks that keep a run meaningful (positive
//! intervals, a retry maximum no shorter than the retry).

use crate::values::{duration, Invalid};
use mesochaos_reference::Timing;
use serde::Deserialize;
use toml::Spanned;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTiming {
    zk_session_timeout: Option<Spanned<String>>,
    agent_ping_timeout: Option<Spanned<String>>,
    max_agent_ping_timeouts: Option<Spanned<u32>>,
    agent_reregister_timeout: Option<Spanned<String>>,
    executor_reregistration_timeout: Option<Spanned<String>>,
    status_update_retry: Option<Spanned<String>>,
    status_update_retry_max: Option<Spanned<String>>,
    registration_backoff_factor: Option<Spanned<String>>,
    scheduler_registration_backoff_factor: Option<Spanned<String>>,
    registration_backoff_max: Option<Spanned<String>>,
    allocation_interval: Option<Spanned<String>>,
    offer_refuse: Option<Spanned<String>>,
    tcp_user_timeout: Option<Spanned<String>>,
    tcp_connect_timeout: Option<Spanned<String>>,
    executor_registration_timeout: Option<Spanned<String>>,
}

pub(crate) fn timing(raw: &RawTiming) -> Result<Timing, Invalid> {
    let mut t = Timing::default();
    let set = |field: &mut u64, value: &Option<Spanned<String>>| -> Result<(), Invalid> {
        if let Some(v) = value {
            *field = duration(v)?;
        }
        Ok(())
    };
    set(&mut t.zk_session_timeout_ms, &raw.zk_session_timeout)?;
    set(&mut t.agent_ping_timeout_ms, &raw.agent_ping_timeout)?;
    set(
        &mut t.agent_reregister_timeout_ms,
        &raw.agent_reregister_timeout,
    )?;
    set(
        &mut t.executor_reregistration_timeout_ms,
        &raw.executor_reregistration_timeout,
    )?;
    set(&mut t.status_update_retry_ms, &raw.status_update_retry)?;
    set(
        &mut t.status_update_retry_max_ms,
        &raw.status_update_retry_max,
    )?;
    set(
        &mut t.agent_registration_backoff_ms,
        &raw.registration_backoff_factor,
    )?;
    set(
        &mut t.scheduler_registration_backoff_ms,
        &raw.scheduler_registration_backoff_factor,
    )?;
    set(
        &mut t.registration_backoff_max_ms,
        &raw.registration_backoff_max,
    )?;
    set(&mut t.allocation_interval_ms, &raw.allocation_interval)?;
    set(&mut t.offer_refuse_ms, &raw.offer_refuse)?;
    set(&mut t.tcp_user_timeout_ms, &raw.tcp_user_timeout)?;
    set(&mut t.tcp_connect_timeout_ms, &raw.tcp_connect_timeout)?;
    set(
        &mut t.executor_registration_timeout_ms,
        &raw.executor_registration_timeout,
    )?;
    if let Some(n) = &raw.max_agent_ping_timeouts {
        if *n.get_ref() == 0 {
            return Err((
                n.span(),
                "max_agent_ping_timeouts must be at least 1".into(),
            ));
        }
        t.max_agent_ping_timeouts = *n.get_ref();
    }
    if let Some(v) = &raw.zk_session_timeout {
        if t.zk_session_timeout_ms < 100 {
            return Err((v.span(), "zk_session_timeout must be at least 100ms".into()));
        }
    }
    let positive = [
        (
            "allocation_interval",
            &raw.allocation_interval,
            t.allocation_interval_ms,
        ),
        (
            "agent_ping_timeout",
            &raw.agent_ping_timeout,
            t.agent_ping_timeout_ms,
        ),
        (
            "status_update_retry",
            &raw.status_update_retry,
            t.status_update_retry_ms,
        ),
        (
            "status_update_retry_max",
            &raw.status_update_retry_max,
            t.status_update_retry_max_ms,
        ),
        (
            "tcp_user_timeout",
            &raw.tcp_user_timeout,
            t.tcp_user_timeout_ms,
        ),
        (
            "tcp_connect_timeout",
            &raw.tcp_connect_timeout,
            t.tcp_connect_timeout_ms,
        ),
        (
            "executor_registration_timeout",
            &raw.executor_registration_timeout,
            t.executor_registration_timeout_ms,
        ),
    ];
    for (name, value, ms) in positive {
        if let (Some(v), 0) = (value, ms) {
            return Err((v.span(), format!("{name} must be positive")));
        }
    }
    if t.status_update_retry_max_ms < t.status_update_retry_ms {
        let span = raw
            .status_update_retry_max
            .as_ref()
            .or(raw.status_update_retry.as_ref())
            .map_or(0..0, |v| v.span());
        return Err((
            span,
            "status_update_retry_max is shorter than status_update_retry".into(),
        ));
    }
    Ok(t)
}
