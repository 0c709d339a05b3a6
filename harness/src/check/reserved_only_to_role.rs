//! `reserved_only_to_role`: reserved resources and persistent volumes are
//! offered only to frameworks of their role.

use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Message, ProcessId};
use std::collections::BTreeMap;

/// What the checker remembers as it reads the trace in order.
#[derive(Default)]
pub struct ReservedOnlyToRole {
    /// scheduler instance -> the role its framework registered with
    roles: BTreeMap<ProcessId, String>,
}

impl ReservedOnlyToRole {
    pub fn observe(&mut self, r: &TraceRecord, violations: &mut Vec<Violation>) {
        match &r.kind {
            TraceKind::Send {
                message:
                    Message::RegisterFramework { info } | Message::ReregisterFramework { info, .. },
                ..
            } => {
                self.roles.insert(r.at.clone(), info.role.clone());
            }
            TraceKind::Send {
                to,
                message: Message::ResourceOffers { offers, .. },
                ..
            } => {
                let Some(role) = self.roles.get(to) else {
                    return;
                };
                for offer in offers {
                    let foreign_resources = offer
                        .resources
                        .0
                        .keys()
                        .any(|r| r != mesochaos_reference::resources::UNRESERVED && r != role);
                    let foreign_volume = offer.volumes.iter().any(|v| &v.role != role);
                    if foreign_resources || foreign_volume {
                        violations.push(Violation {
                            checker: "reserved_only_to_role".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "offer {} to {to} (role {role}) holds another role's reserved resources or volume",
                                offer.offer_id
                            ),
                            processes: vec![to.to_string()],
                        });
                    }
                }
            }
            _ => {}
        }
    }
}
