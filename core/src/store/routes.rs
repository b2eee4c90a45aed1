//! Routes: which hostnames each app answers on and where its live container
//! is (the desired state every edge serves), the host guards that keep a
//! hostname to one app in the whole stack, and the version that tells edges
//! a route changed.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::error::{dynamo, malformed_request, StoreError};
use super::item::{attr, from_item, n, s, with_keys, HostGuard, Key, ROUTES};
use super::table::Store;
use super::update::Update;
use crate::ids::{AppId, DeploymentId};
use crate::model::{App, AppConfig};

/// One app's route: its hostnames, and the `host:port` of its live
/// container once it has one (until then the edge answers 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub app_id: AppId,
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The deployment whose container `upstream` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<DeploymentId>,
}

/// The hostnames an app with `config` answers on: its own, then its domain.
pub(super) fn hosts_of(app: &App, config: &AppConfig) -> Vec<String> {
    let mut hosts = vec![app.hostname.clone()];
    hosts.extend(config.domain.iter().map(|d| d.as_str().to_owned()));
    hosts
}

impl Store {
    /// Bumped after every change of a route. An edge that sees it move reads
    /// the routes again.
    pub async fn routes_version(&self) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct Version {
            version: u64,
        }
        let v: Option<Version> = self.get(Key::routes_version()).await?;
        Ok(v.map_or(0, |v| v.version))
    }

    /// Every route of the stack, read consistently.
    pub async fn routes(&self) -> Result<Vec<Route>, StoreError> {
        let mut routes = Vec::new();
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("PK = :pk AND begins_with(SK, :app)")
            .expression_attribute_values(":pk", s(ROUTES))
            .expression_attribute_values(":app", s("APP#"))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            routes.push(from_item(item.map_err(dynamo)?)?);
        }
        Ok(routes)
    }

    /// The app holding `hostname`, if any.
    pub async fn host_holder(&self, hostname: &str) -> Result<Option<AppId>, StoreError> {
        let guard: Option<HostGuard> = self.get(Key::host(hostname)).await?;
        Ok(guard.map(|g| g.app_id))
    }

    /// Points the route of `app_id`, and its live deployment `live`, at
    /// `upstream` (a container brought back on another port); `Conflict`
    /// when another deployment went live meanwhile.
    pub async fn set_upstream(
        &self,
        app_id: &AppId,
        live: &DeploymentId,
        upstream: &str,
    ) -> Result<(), StoreError> {
        use attr::*;
        let route = Update::new(Key::route(app_id))
            .set(UPSTREAM, s(upstream))
            .when(format!("#{DEPLOYMENT_ID} = :live"))
            .value(":live", s(live));
        let deployment = Update::new(Key::deployment(live))
            .set(UPSTREAM, s(upstream))
            .when(format!("attribute_exists(#{PK})"));
        self.transact(vec![
            route.in_transaction(&self.table)?,
            deployment.in_transaction(&self.table)?,
        ])
        .await?;
        self.routes_changed().await;
        Ok(())
    }

    /// Tells the edges a route changed. Not part of the change's own
    /// transaction, so concurrent changes never conflict on it; if it is
    /// lost, edges still converge at their next full read.
    pub(super) async fn routes_changed(&self) {
        use attr::*;
        let _ = Update::new(Key::routes_version())
            .set_expr(format!(
                "#{VERSION} = if_not_exists(#{VERSION}, :zero) + :one"
            ))
            .value(":zero", n(0))
            .value(":one", n(1))
            .send(self)
            .await;
    }

    /// `hostname` taken for `app_id` (or kept, if it holds it already), as
    /// one item of a transaction; the transaction fails if another app
    /// holds it.
    pub(super) fn hold_host(
        &self,
        hostname: &str,
        app_id: &AppId,
    ) -> Result<TransactWriteItem, StoreError> {
        use attr::*;
        let guard = HostGuard {
            app_id: app_id.clone(),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_keys(&guard, Key::host(hostname), None)?))
            .condition_expression(format!("attribute_not_exists(#{PK}) OR #{APP_ID} = :app"))
            .expression_attribute_names(format!("#{PK}"), PK)
            .expression_attribute_names(format!("#{APP_ID}"), APP_ID)
            .expression_attribute_values(":app", s(app_id))
            .build()
            .map_err(malformed_request)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `hostname` given up by `app_id`, as one item of a transaction.
    pub(super) fn free_host(
        &self,
        hostname: &str,
        app_id: &AppId,
    ) -> Result<TransactWriteItem, StoreError> {
        use attr::*;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Key::host(hostname).attributes()))
            .condition_expression(format!("#{APP_ID} = :app"))
            .expression_attribute_names(format!("#{APP_ID}"), APP_ID)
            .expression_attribute_values(":app", s(app_id))
            .build()
            .map_err(malformed_request)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A new app's route (no upstream yet) and its host guards, as items of
    /// a transaction.
    pub(super) fn new_route(&self, app: &App) -> Result<Vec<TransactWriteItem>, StoreError> {
        let route = Route {
            app_id: app.id.clone(),
            hosts: hosts_of(app, &app.config),
            upstream: None,
            deployment_id: None,
        };
        let mut items = Vec::new();
        for host in &route.hosts {
            items.push(self.hold_host(host, &app.id)?);
        }
        items.push(self.put_new(with_keys(&route, Key::route(&app.id), None)?)?);
        Ok(items)
    }

    /// The transaction items that move `app` from its domain to the one of
    /// `config`; none when it stays.
    pub(super) fn change_domain(
        &self,
        app: &App,
        config: &AppConfig,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let (old, new) = (&app.config.domain, &config.domain);
        if old == new {
            return Ok(Vec::new());
        }
        let mut items = Vec::new();
        if let Some(old) = old {
            items.push(self.free_host(old.as_str(), &app.id)?);
        }
        if let Some(new) = new {
            items.push(self.hold_host(new.as_str(), &app.id)?);
        }
        items.push(
            Update::new(Key::route(&app.id))
                .set(attr::HOSTS, super::item::attribute(&hosts_of(app, config))?)
                .when(format!("attribute_exists(#{})", attr::PK))
                .in_transaction(&self.table)?,
        );
        Ok(items)
    }
}
