//! Apps: created with their name guard, listed per owner, reconfigured and
//! given new deployments under their version, deleted (freeing the name).

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem};

use super::error::{dynamo, malformed_request, StoreError};
use super::item::{
    app_item, attr, attribute, deployment_item, from_item, n, owner_apps, s, with_keys, Key,
    NameGuard, GSI1,
};
use super::table::Store;
use super::update::Update;
use crate::ids::{AppId, Owner};
use crate::model::{App, AppConfig, Archive, Deployment, PendingUpload};

impl Store {
    pub async fn get_app(&self, id: &AppId) -> Result<Option<App>, StoreError> {
        self.get(Key::app(id)).await
    }

    /// The app if it exists, is not deleted and belongs to `owner`. Another
    /// owner's app is indistinguishable from a missing one.
    pub async fn get_owned_app(
        &self,
        owner: &Owner,
        id: &AppId,
    ) -> Result<Option<App>, StoreError> {
        Ok(self
            .get_app(id)
            .await?
            .filter(|a| a.owner == *owner && a.deleted_at.is_none()))
    }

    pub async fn app_id_for_name(
        &self,
        owner: &Owner,
        name: &str,
    ) -> Result<Option<AppId>, StoreError> {
        let guard: Option<NameGuard> = self.get(Key::name_guard(owner, name)).await?;
        Ok(guard.map(|g| g.app_id))
    }

    pub async fn list_apps(&self, owner: &Owner) -> Result<Vec<App>, StoreError> {
        let mut apps = Vec::new();
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk AND begins_with(GSI1SK, :app)")
            .expression_attribute_values(":pk", s(owner_apps(owner)))
            .expression_attribute_values(":app", s("APP#"))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let app: App = from_item(item.map_err(dynamo)?)?;
            if app.deleted_at.is_none() {
                apps.push(app);
            }
        }
        Ok(apps)
    }

    /// Creates the app, its name guard, its route with the guards of its
    /// hostnames and its first deployment (if any) at once. `Conflict` when
    /// the name or a hostname was taken meanwhile.
    pub async fn create_app(
        &self,
        app: &App,
        first: Option<&Deployment>,
    ) -> Result<(), StoreError> {
        let guard = NameGuard {
            app_id: app.id.clone(),
        };
        let mut items = vec![
            self.put_new(with_keys(
                &guard,
                Key::name_guard(&app.owner, &app.name),
                None,
            )?)?,
            self.put_new(app_item(app)?)?,
        ];
        items.extend(self.new_route(app)?);
        if let Some(first) = first {
            items.push(self.put_new(deployment_item(first)?)?);
        }
        self.transact(items).await?;
        self.routes_changed().await;
        Ok(())
    }

    /// Records a new deployment as the app's newest, replacing its config when
    /// one is given (and with it the custom domain it holds: `Conflict` when
    /// another app holds the new one). Conditioned on the version read, so two concurrent
    /// deploys of one app cannot interleave and the newest deployment read
    /// is exactly the one the new one replaces. `Conflict` asks the caller
    /// to read again.
    pub async fn add_deployment(
        &self,
        app: &App,
        config: Option<&AppConfig>,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        self.add_deployment_of(app, config, None, deployment).await
    }

    /// [`Store::add_deployment`] of an upload app, making `archive` its
    /// current archive (and forgetting the pending upload it came from).
    pub async fn add_archive_deployment(
        &self,
        app: &App,
        archive: &Archive,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        self.add_deployment_of(app, None, Some(archive), deployment)
            .await
    }

    async fn add_deployment_of(
        &self,
        app: &App,
        config: Option<&AppConfig>,
        archive: Option<&Archive>,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        use attr::*;
        let mut update = Update::new(Key::app(&app.id))
            .set(LATEST_DEPLOYMENT_ID, s(&deployment.id))
            .set_expr(format!("#{VERSION} = #{VERSION} + :one"))
            .value(":one", n(1))
            .when(format!(
                "#{VERSION} = :v AND attribute_not_exists(#{DELETED_AT})"
            ))
            .value(":v", n(app.version));
        let mut items = Vec::new();
        if let Some(config) = config {
            update = update.set(CONFIG, attribute(config)?);
            items = self.change_domain(app, config)?;
        }
        if let Some(archive) = archive {
            update = update.set(ARCHIVE, attribute(archive)?);
            if app.upload.as_ref().is_some_and(|u| u.path == archive.path) {
                update = update.remove(UPLOAD);
            }
        }
        let routes_change = !items.is_empty();
        items.push(update.in_transaction(&self.table)?);
        items.push(self.put_new(deployment_item(deployment)?)?);
        self.transact(items).await?;
        if routes_change {
            self.routes_changed().await;
        }
        Ok(())
    }

    /// Takes over the app's placement on `from_runner` (a lost or retiring
    /// host) by adding its failover `deployment`, in one transaction with
    /// the removal of that placement. Fenced: it holds only while the app
    /// is unchanged since read (`version`), still lives on that runner, and
    /// the placement is still there, so of two runners taking over the same
    /// placement exactly one wins; the other gets `Conflict`.
    pub async fn add_failover(
        &self,
        app: &App,
        from_runner: &str,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        use attr::*;
        let update = Update::new(Key::app(&app.id))
            .set(LATEST_DEPLOYMENT_ID, s(&deployment.id))
            .set_expr(format!("#{VERSION} = #{VERSION} + :one"))
            .value(":one", n(1))
            .when(format!(
                "#{VERSION} = :v AND attribute_not_exists(#{DELETED_AT}) AND #{LIVE_RUNNER_ID} = :from"
            ))
            .value(":v", n(app.version))
            .value(":from", s(from_runner));
        let placement = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Key::placement(from_runner, &app.id).attributes()))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(malformed_request)?;
        self.transact(vec![
            update.in_transaction(&self.table)?,
            self.put_new(deployment_item(deployment)?)?,
            TransactWriteItem::builder().delete(placement).build(),
        ])
        .await
    }

    /// Records the upload URL just handed out; returns the one it replaces.
    pub async fn set_pending_upload(
        &self,
        app_id: &str,
        upload: &PendingUpload,
    ) -> Result<Option<PendingUpload>, StoreError> {
        use attr::*;
        let old = Update::new(Key::app(app_id))
            .set(UPLOAD, attribute(upload)?)
            .when(format!(
                "attribute_exists(#{PK}) AND attribute_not_exists(#{DELETED_AT})"
            ))
            .returning(ReturnValue::UpdatedOld)
            .send(self)
            .await?;
        Ok(old
            .and_then(|mut a| a.remove(UPLOAD))
            .map(serde_dynamo::from_attribute_value)
            .transpose()?)
    }

    /// Replaces the app's archive `old_path` by `new` (a `.zip` stored back
    /// as `.tar.gz`); `Conflict` when the app has moved on to another one.
    pub async fn replace_archive(
        &self,
        app_id: &str,
        old_path: &str,
        new: &Archive,
    ) -> Result<(), StoreError> {
        use attr::*;
        Update::new(Key::app(app_id))
            .set(ARCHIVE, attribute(new)?)
            .when(format!(
                "#{ARCHIVE}.#{PATH} = :old AND attribute_not_exists(#{DELETED_AT})"
            ))
            .value(":old", s(old_path))
            .send(self)
            .await?;
        Ok(())
    }

    /// Marks the app deleted and frees its name and custom domain at once;
    /// its own hostname stays its, answered 503. Runners remove its container
    /// on their next reconcile.
    pub async fn delete_app(&self, app: &App) -> Result<(), StoreError> {
        use attr::*;
        let mark = Update::new(Key::app(&app.id))
            .set(DELETED_AT, s(crate::ids::now_rfc3339()))
            .remove(GSI1PK)
            .remove(GSI1SK)
            .when(format!(
                "attribute_exists(#{PK}) AND attribute_not_exists(#{DELETED_AT})"
            ));
        let free = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Key::name_guard(&app.owner, &app.name).attributes()))
            .condition_expression(format!("#{APP_ID} = :id"))
            .expression_attribute_names(format!("#{APP_ID}"), APP_ID)
            .expression_attribute_values(":id", s(&app.id))
            .build()
            .map_err(malformed_request)?;
        let unroute = Update::new(Key::route(&app.id))
            .set(HOSTS, attribute(&[&app.hostname])?)
            .remove(UPSTREAM)
            .remove(DEPLOYMENT_ID);
        let mut items = vec![
            mark.in_transaction(&self.table)?,
            TransactWriteItem::builder().delete(free).build(),
            unroute.in_transaction(&self.table)?,
        ];
        if let Some(domain) = &app.config.domain {
            items.push(self.free_host(domain.as_str(), &app.id)?);
        }
        self.transact(items).await?;
        self.routes_changed().await;
        Ok(())
    }

    /// Replaces the app's configuration, as of `app.version` (`Conflict`
    /// when it changed or was deleted meanwhile, or the new domain is
    /// another app's). A changed domain routes at once; the rest applies
    /// from the next deployment.
    pub async fn set_config(&self, app: &App, config: &AppConfig) -> Result<(), StoreError> {
        use attr::*;
        let mut items = self.change_domain(app, config)?;
        let routes_change = !items.is_empty();
        items.push(
            Update::new(Key::app(&app.id))
                .set(CONFIG, attribute(config)?)
                .set_expr(format!("#{VERSION} = #{VERSION} + :one"))
                .value(":one", n(1))
                .when(format!(
                    "#{VERSION} = :v AND attribute_not_exists(#{DELETED_AT})"
                ))
                .value(":v", n(app.version))
                .in_transaction(&self.table)?,
        );
        self.transact(items).await?;
        if routes_change {
            self.routes_changed().await;
        }
        Ok(())
    }

    /// Replaces the app's sealed webhook secret, as of `app.version`:
    /// `Conflict` when the app changed or was deleted meanwhile.
    pub async fn set_webhook_secret(&self, app: &App, sealed: &str) -> Result<(), StoreError> {
        use attr::*;
        Update::new(Key::app(&app.id))
            .set(SEALED_WEBHOOK_SECRET, s(sealed))
            .set_expr(format!("#{VERSION} = #{VERSION} + :one"))
            .value(":one", n(1))
            .when(format!(
                "#{VERSION} = :v AND attribute_not_exists(#{DELETED_AT})"
            ))
            .value(":v", n(app.version))
            .send(self)
            .await?;
        Ok(())
    }

    /// Whether the app's live container is down and could not be restarted.
    pub async fn set_stopped(
        &self,
        app_id: &str,
        live: &str,
        stopped: bool,
    ) -> Result<(), StoreError> {
        Self::of_live(app_id, live)
            .set(attr::STOPPED, AttributeValue::Bool(stopped))
            .send(self)
            .await?;
        Ok(())
    }

    /// An update of the app that holds while `live` is its live deployment.
    fn of_live(app_id: &str, live: &str) -> Update {
        Update::new(Key::app(app_id))
            .when(format!("#{} = :live", attr::LIVE_DEPLOYMENT_ID))
            .value(":live", s(live))
    }
}
