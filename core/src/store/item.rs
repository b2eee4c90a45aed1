//! The table's layout, written once: item keys, the GSI, attribute names
//! (the serde names of `model.rs`, pinned by a test) and the items that
//! are not a model type.
//!
//! | item       | PK                    | SK            | GSI1PK            | GSI1SK       |
//! |------------|-----------------------|---------------|-------------------|--------------|
//! | app        | `APP#<id>`            | `APP`         | `OWNER#<owner>`   | `APP#<name>` |
//! | name guard | `NAME#<owner>#<n>`    | `NAME`        |                   |              |
//! | deployment | `DEP#<id>`            | `DEP`         | `APPDEPS#<appId>` | `DEP#<id>`   |
//! | API token  | `TOKEN#<sha256>`      | `TOKEN`       |                   |              |
//! | delivery   | `DELIVERY#<app>#<id>` | `DELIVERY`    |                   |              |
//! | placement  | `RUNNER#<runnerId>`   | `APP#<appId>` |                   |              |
//! | host guard | `HOST#<hostname>`     | `HOST`        |                   |              |
//! | route      | `ROUTES`              | `APP#<appId>` |                   |              |
//! | routes ver.| `ROUTES`              | `VERSION`     |                   |              |
//! | runner     | `RUNNERS`             | `RUNNER#<id>` |                   |              |
//!
//! Every route sits in one partition, so an edge reads them all with one
//! strongly consistent query; the version item, bumped after each change,
//! tells edges when to read them again.
//!
//! Webhook deliveries and runners' records carry `expiresAt` (epoch
//! seconds), the table's TTL.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::ids::{AppId, DeploymentId, Owner};
use crate::model::{App, Deployment};

pub const GSI1: &str = "GSI1";

/// Attribute names used in expressions. Each is a name serde writes for the
/// item it belongs to (see the test below), so a renamed field cannot
/// silently stop matching.
pub(crate) mod attr {
    pub const PK: &str = "PK";
    pub const SK: &str = "SK";
    pub const GSI1PK: &str = "GSI1PK";
    pub const GSI1SK: &str = "GSI1SK";

    // App
    pub const VERSION: &str = "version";
    pub const CONFIG: &str = "config";
    pub const LATEST_DEPLOYMENT_ID: &str = "latestDeploymentId";
    pub const LIVE_DEPLOYMENT_ID: &str = "liveDeploymentId";
    pub const LIVE_RUNNER_ID: &str = "liveRunnerId";
    pub const STOPPED: &str = "stopped";
    pub const SEALED_WEBHOOK_SECRET: &str = "sealedWebhookSecret";
    pub const DELETED_AT: &str = "deletedAt";
    pub const UPLOAD: &str = "upload";
    /// On apps and deployments alike.
    pub const ARCHIVE: &str = "archive";
    pub const UPDATED_AT: &str = "updatedAt";
    /// `archive.path`
    pub const PATH: &str = "path";

    // Deployment
    pub const STATUS: &str = "status";
    pub const ATTEMPT: &str = "attempt";
    pub const RUNNER_ID: &str = "runnerId";
    pub const LEASE_UNTIL: &str = "leaseUntil";
    pub const CANCEL_REQUESTED: &str = "cancelRequested";
    pub const ERROR: &str = "error";
    pub const COMMIT: &str = "commit";
    pub const CACHE_HIT: &str = "cacheHit";
    pub const PHASES: &str = "phases";

    // Delivery record, route
    pub const DEPLOYMENT_ID: &str = "deploymentId";

    // Route
    pub const HOSTS: &str = "hosts";
    /// On routes and deployments alike.
    pub const UPSTREAM: &str = "upstream";

    // Name and host guards, placement, route
    pub const APP_ID: &str = "appId";
}

/// The partition of every route and of their version.
pub(crate) const ROUTES: &str = "ROUTES";
/// The partition of every runner's record.
pub(crate) const RUNNERS: &str = "RUNNERS";

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn app(id: &str) -> Self {
        Self::new(format!("APP#{id}"), "APP")
    }
    pub fn name_guard(owner: &Owner, name: &str) -> Self {
        Self::new(format!("NAME#{owner}#{name}"), "NAME")
    }
    pub fn deployment(id: &str) -> Self {
        Self::new(format!("DEP#{id}"), "DEP")
    }
    pub fn token(digest: &str) -> Self {
        Self::new(format!("TOKEN#{digest}"), "TOKEN")
    }
    pub fn delivery(app_id: &str, delivery_id: &str) -> Self {
        Self::new(format!("DELIVERY#{app_id}#{delivery_id}"), "DELIVERY")
    }
    pub fn placement(runner_id: &str, app_id: &str) -> Self {
        Self::new(Self::runner(runner_id), format!("APP#{app_id}"))
    }
    pub fn host(hostname: &str) -> Self {
        Self::new(format!("HOST#{hostname}"), "HOST")
    }
    pub fn route(app_id: &str) -> Self {
        Self::new(ROUTES.to_owned(), format!("APP#{app_id}"))
    }
    /// An owner's places in the fleet's builds.
    pub fn builds(owner: &Owner) -> Self {
        Self::new(format!("BUILDS#{owner}"), "BUILDS")
    }
    /// A runner's record (its placements are in [`Key::runner`]'s partition).
    pub fn runner_record(runner_id: &str) -> Self {
        Self::new(RUNNERS.to_owned(), format!("RUNNER#{runner_id}"))
    }
    pub fn routes_version() -> Self {
        Self::new(ROUTES.to_owned(), "VERSION")
    }
    /// The partition holding a runner's placements.
    pub fn runner(runner_id: &str) -> String {
        format!("RUNNER#{runner_id}")
    }

    fn new(pk: String, sk: impl Into<String>) -> Self {
        Self { pk, sk: sk.into() }
    }

    pub fn attributes(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (attr::PK.to_owned(), s(&self.pk)),
            (attr::SK.to_owned(), s(&self.sk)),
        ])
    }
}

/// GSI1's partition of an owner's apps (sorted by name).
pub(crate) fn owner_apps(owner: &Owner) -> String {
    format!("OWNER#{owner}")
}

/// GSI1's partition of an app's deployments (sorted by id, i.e. creation).
pub(crate) fn app_deployments(app_id: &str) -> String {
    format!("APPDEPS#{app_id}")
}

pub(crate) fn app_item(app: &App) -> Result<HashMap<String, AttributeValue>, StoreError> {
    with_keys(
        app,
        Key::app(&app.id),
        Some((owner_apps(&app.owner), format!("APP#{}", app.name))),
    )
}

pub(crate) fn deployment_item(
    d: &Deployment,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    with_keys(
        d,
        Key::deployment(&d.id),
        Some((app_deployments(&d.app_id), format!("DEP#{}", d.id))),
    )
}

/// A name guard: this owner's name belongs to this app.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NameGuard {
    pub app_id: AppId,
}

/// A host guard: this hostname (an app's own or its custom domain) belongs
/// to this app, in the whole stack.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostGuard {
    pub app_id: AppId,
}

/// An API token: stored as its digest, with the owner it speaks for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenItem {
    pub owner: Owner,
    pub created_at: String,
}

/// A webhook delivery and the deployment it recorded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryItem {
    pub deployment_id: DeploymentId,
    #[serde(default)]
    pub recorded_at: u64,
    /// Epoch seconds; the table's TTL.
    #[serde(default)]
    pub expires_at: u64,
}

/// "This runner's host runs the app's live container".
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlacementItem {
    pub app_id: AppId,
}

/// `value` as an item under `key` (and, when given, GSI1's keys).
pub(crate) fn with_keys<T: Serialize>(
    value: &T,
    key: Key,
    gsi1: Option<(String, String)>,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(value)?;
    item.extend(key.attributes());
    if let Some((pk, sk)) = gsi1 {
        item.insert(attr::GSI1PK.to_owned(), s(pk));
        item.insert(attr::GSI1SK.to_owned(), s(sk));
    }
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(
    item: HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

pub(crate) fn attribute<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    Ok(serde_dynamo::to_attribute_value(value)?)
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::deploy_request::{Rules, UploadAppRequest};
    use crate::model::{AppConfig, Archive, PendingUpload, Phase, Trigger};
    use crate::status::DeploymentStatus;
    use crate::store::routes::Route;

    fn app() -> App {
        let request = UploadAppRequest::parse(
            br#"{"name":"n","domain":"shop.example.com"}"#,
            &Rules::for_tests(),
        )
        .unwrap();
        let config = AppConfig {
            sealed_credentials: Some("x".into()),
            ..AppConfig::for_upload(&request, None)
        };
        let archive = Archive {
            path: "sources/a/1.tar.gz".into(),
            size: 1,
            uploaded_at: "t".into(),
        };
        App {
            latest_deployment_id: Some(DeploymentId::new()),
            live_deployment_id: Some(DeploymentId::new()),
            live_runner_id: Some("r".into()),
            stopped: true,
            deleted_at: Some("t".into()),
            archive: Some(archive),
            upload: Some(PendingUpload {
                path: "p".into(),
                format: crate::upload::ArchiveFormat::Zip,
                size: 1,
                expires_at: "t".into(),
            }),
            ..App::new(
                AppId::parse("01a23b7e-4d88-7366-b4a4-65104ee21522").unwrap(),
                &Owner::new("o"),
                "n",
                config,
                "s".into(),
                &Rules::for_tests().apps,
            )
        }
    }

    fn deployment(app: &App) -> Deployment {
        let mut d = Deployment::queued(app, Trigger::Webhook);
        d.status = DeploymentStatus::Building;
        d.commit = Some("c".into());
        d.pushed_commit = Some("c".into());
        d.cache_hit = Some(true);
        d.error = Some("e".into());
        d.phases.insert(
            "clone".into(),
            Phase {
                started_at: "t".into(),
                finished_at: None,
                millis: None,
            },
        );
        d.cancel_requested = true;
        d.attempt = 1;
        d.runner_id = Some("r".into());
        d.lease_until = Some(1);
        d.upstream = Some("u".into());
        d.archive = app.archive.clone();
        d
    }

    fn names<T: Serialize>(value: &T) -> BTreeSet<String> {
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(value).unwrap();
        item.into_keys().collect()
    }

    #[test]
    fn every_attribute_name_is_one_serde_writes() {
        use attr::*;
        let app = app();
        let app_names = names(&app);
        for name in [
            VERSION,
            CONFIG,
            LATEST_DEPLOYMENT_ID,
            LIVE_DEPLOYMENT_ID,
            LIVE_RUNNER_ID,
            STOPPED,
            DELETED_AT,
            UPLOAD,
            ARCHIVE,
            UPDATED_AT,
        ] {
            assert!(app_names.contains(name), "App has no field {name}");
        }
        let dep_names = names(&deployment(&app));
        for name in [
            STATUS,
            ATTEMPT,
            RUNNER_ID,
            LEASE_UNTIL,
            CANCEL_REQUESTED,
            ERROR,
            COMMIT,
            CACHE_HIT,
            PHASES,
            ARCHIVE,
            UPSTREAM,
            UPDATED_AT,
        ] {
            assert!(dep_names.contains(name), "Deployment has no field {name}");
        }
        assert!(names(app.archive.as_ref().unwrap()).contains(PATH));
        let delivery = DeliveryItem {
            deployment_id: DeploymentId::new(),
            recorded_at: 1,
            expires_at: 2,
        };
        assert!(names(&delivery).contains(DEPLOYMENT_ID));
        let guard = NameGuard {
            app_id: AppId::new(),
        };
        assert!(names(&guard).contains(APP_ID));
        let placement = PlacementItem {
            app_id: AppId::new(),
        };
        assert!(names(&placement).contains(APP_ID));
        let host = HostGuard {
            app_id: AppId::new(),
        };
        assert!(names(&host).contains(APP_ID));
        let route = Route {
            app_id: AppId::new(),
            hosts: vec!["h".into()],
            upstream: Some("127.0.0.1:1".into()),
            deployment_id: Some(DeploymentId::new()),
        };
        let route_names = names(&route);
        for name in [APP_ID, HOSTS, UPSTREAM, DEPLOYMENT_ID] {
            assert!(route_names.contains(name), "Route has no field {name}");
        }
    }

    #[test]
    fn items_carry_their_keys_and_index() {
        let app = app();
        let item = app_item(&app).unwrap();
        assert_eq!(
            item[attr::PK],
            s("APP#01a23b7e-4d88-7366-b4a4-65104ee21522")
        );
        assert_eq!(item[attr::SK], s("APP"));
        assert_eq!(item[attr::GSI1PK], s("OWNER#o"));
        assert_eq!(item[attr::GSI1SK], s("APP#n"));
        let d = deployment(&app);
        let item = deployment_item(&d).unwrap();
        assert_eq!(item[attr::PK], s(format!("DEP#{}", d.id)));
        assert_eq!(
            item[attr::GSI1PK],
            s("APPDEPS#01a23b7e-4d88-7366-b4a4-65104ee21522")
        );
        assert_eq!(Key::placement("r1", "a").pk, "RUNNER#r1");
        assert_eq!(Key::placement("r1", "a").sk, "APP#a");
        assert_eq!(Key::host("a.b").pk, "HOST#a.b");
        assert_eq!(Key::route("a").pk, Key::routes_version().pk);
        assert_eq!(Key::route("a").sk, "APP#a");
        assert_eq!(Key::routes_version().sk, "VERSION");
    }
}
