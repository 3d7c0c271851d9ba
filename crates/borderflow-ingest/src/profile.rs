//! Ready mappings for the formats statistics offices and operators already hold: Eurostat's
//! MultiMNO bronze events and Flowminder FlowKit's call and SMS tables (docs/ingest.md,
//! "Profiles"). A profile is a set of [column expressions](crate::expr) and a time format;
//! `input.columns` and `input.time_format` override it key by key.

use std::collections::BTreeMap;

use borderflow_core::schema::event;
use serde::{Deserialize, Serialize};

use crate::TimeFormat;
use crate::expr::ColumnExpr;

/// A published input format borderflow reads as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// MultiMNO (`eurostat/multimno` 1.0) bronze `mno_events`: `user_id` BINARY (SHA-256 of
    /// the operator's id), `timestamp` text in UTC, `mcc` INT and `mnc` TEXT of the SIM's home
    /// network, `plmn` INT of the visited network for the operator's SIMs abroad (null
    /// otherwise), `cell_id`, in `year=/month=/day=` folders.
    MultimnoBronze,
    /// FlowKit `events.calls` (often exported to CSV): `msisdn`, `datetime` (timestamptz or
    /// naive text), `outgoing` (bool), `location_id`; no network columns, so every row is
    /// taken as the operator's SIM on the operator's network (a domestic export).
    FlowkitCalls,
    /// FlowKit `events.sms`: as `flowkit-calls`, `outgoing` read as `sms_out`/`sms_in`.
    FlowkitSms,
}

impl Profile {
    /// Every profile, as `validate` lists them.
    pub const ALL: [Profile; 3] = [
        Profile::MultimnoBronze,
        Profile::FlowkitCalls,
        Profile::FlowkitSms,
    ];

    /// The name written in `input.profile`.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::MultimnoBronze => "multimno-bronze",
            Profile::FlowkitCalls => "flowkit-calls",
            Profile::FlowkitSms => "flowkit-sms",
        }
    }

    /// How its times are written.
    pub fn time_format(self) -> TimeFormat {
        TimeFormat::Iso8601
    }

    /// Its column expressions; `own_plmn` (the operator's network, MCC+MNC) stands for the
    /// network rows carry none of.
    pub fn columns(self, own_plmn: &str) -> BTreeMap<String, ColumnExpr> {
        let mut m = BTreeMap::new();
        let mut set = |k: &str, e: ColumnExpr| {
            m.insert(k.to_string(), e);
        };
        match self {
            Profile::MultimnoBronze => {
                // MultiMNO's own rule (event cleaning): outbound when `plmn` is set and foreign,
                // domestic when `mcc` is local, inbound otherwise. The serving network is
                // `plmn` where set, else the operator's own: the same three cases.
                set(event::SUBSCRIBER_ID, ColumnExpr::hex("user_id"));
                set(event::EVENT_TIME, ColumnExpr::column("timestamp"));
                set(event::HOME_PLMN, ColumnExpr::concat(&["mcc", "mnc"]));
                set(event::SERVING_PLMN, ColumnExpr::column("plmn").or(own_plmn));
                set(event::CELL_ID, ColumnExpr::column("cell_id"));
            }
            Profile::FlowkitCalls | Profile::FlowkitSms => {
                let (out, inn) = if self == Profile::FlowkitCalls {
                    ("call_out", "call_in")
                } else {
                    ("sms_out", "sms_in")
                };
                set(event::SUBSCRIBER_ID, ColumnExpr::column("msisdn"));
                set(event::EVENT_TIME, ColumnExpr::column("datetime"));
                set(event::HOME_PLMN, ColumnExpr::value(own_plmn));
                set(event::SERVING_PLMN, ColumnExpr::value(own_plmn));
                set(event::CELL_ID, ColumnExpr::column("location_id"));
                // PostgreSQL writes booleans as t/f in its text exports, true/false in JSON.
                let mut map = BTreeMap::new();
                for (k, v) in [("true", out), ("t", out), ("false", inn), ("f", inn)] {
                    map.insert(k.to_string(), v.to_string());
                }
                set(
                    event::EVENT_TYPE,
                    ColumnExpr {
                        map,
                        ..ColumnExpr::column("outgoing")
                    },
                );
                // `msisdn_counterpart` is a token like `msisdn`, not a number: no country can be
                // read from it, so the counterpart is left unmapped.
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multimno_profile_follows_its_domain_rule() {
        let c = Profile::MultimnoBronze.columns("21407");
        assert_eq!(
            c[event::SUBSCRIBER_ID].to_string(),
            r#"{ hex = "user_id" }"#
        );
        assert_eq!(
            c[event::HOME_PLMN].to_string(),
            r#"{ concat = ["mcc", "mnc"] }"#
        );
        assert_eq!(
            c[event::SERVING_PLMN].to_string(),
            r#"{ column = "plmn", default = "21407" }"#
        );
        assert!(!c.contains_key(event::COUNTERPART_NUMBER));
    }

    #[test]
    fn the_flowkit_profiles_read_outgoing_as_the_event_type() {
        let calls = Profile::FlowkitCalls.columns("63902");
        assert_eq!(
            calls[event::EVENT_TYPE].to_string(),
            r#"{ column = "outgoing", map = { "f" = "call_in", "false" = "call_in", "t" = "call_out", "true" = "call_out" } }"#
        );
        assert_eq!(
            calls[event::HOME_PLMN].to_string(),
            r#"{ value = "63902" }"#
        );
        let sms = Profile::FlowkitSms.columns("63902");
        assert!(sms[event::EVENT_TYPE].to_string().contains("sms_out"));
    }

    #[test]
    fn profiles_are_named_in_kebab_case() {
        for p in Profile::ALL {
            let v: Profile = serde_json_from_name(p.name());
            assert_eq!(v, p);
        }
    }

    fn serde_json_from_name(name: &str) -> Profile {
        #[derive(Deserialize)]
        struct W {
            p: Profile,
        }
        toml::from_str::<W>(&format!("p = {name:?}")).unwrap().p
    }
}
