//! The webhook's short memory of the apps it served, so a burst of pushes
//! (a merge train, a bot) reads each app once, not once per delivery.
//!
//! What it may serve stale is harmless by construction: an app's id and
//! webhook secret never change; a push the remembered branch or watch
//! paths would ignore is decided again on a fresh read (no push is lost to
//! an old setting); one they would deploy becomes a deployment that the
//! runner builds from the app's current settings, and the push recorder
//! cancels it if the app was deleted meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_core::ids::AppId;
use slipway_core::model::App;

/// How long a read app is trusted.
const FRESH_FOR: Duration = Duration::from_secs(10);
/// Apps kept; past this the expired ones go.
const CAPACITY: usize = 1024;

#[derive(Clone, Default)]
pub struct RecentApps(Arc<Mutex<HashMap<AppId, (Instant, App)>>>);

impl RecentApps {
    pub fn get(&self, id: &str) -> Option<App> {
        let apps = self.0.lock().expect("not poisoned");
        apps.get(id)
            .filter(|(read, _)| read.elapsed() < FRESH_FOR)
            .map(|(_, app)| app.clone())
    }

    pub fn put(&self, app: &App) {
        let mut apps = self.0.lock().expect("not poisoned");
        if apps.len() >= CAPACITY {
            apps.retain(|_, (read, _)| read.elapsed() < FRESH_FOR);
            if apps.len() >= CAPACITY {
                apps.clear();
            }
        }
        apps.insert(app.id.clone(), (Instant::now(), app.clone()));
    }

    pub fn forget(&self, id: &str) {
        self.0.lock().expect("not poisoned").remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::deploy_request::{Rules, UploadAppRequest};
    use slipway_core::ids::Owner;
    use slipway_core::model::AppConfig;

    fn app(id: &AppId) -> App {
        let request = UploadAppRequest::parse(br#"{"name":"n"}"#, &Rules::for_tests()).unwrap();
        let config = AppConfig::for_upload(&request, None);
        App::new(
            id.clone(),
            &Owner::new("o"),
            "n",
            config,
            "sealed".into(),
            &Rules::for_tests().apps,
        )
    }

    #[test]
    fn remembers_for_a_while_and_forgets_on_demand() {
        let (recent, a) = (RecentApps::default(), AppId::new());
        assert!(recent.get(&a).is_none());
        recent.put(&app(&a));
        assert_eq!(recent.get(&a).map(|app| app.id), Some(a.clone()));
        recent.forget(&a);
        assert!(recent.get(&a).is_none());
    }

    #[test]
    fn an_old_read_is_not_served() {
        let (recent, a) = (RecentApps::default(), AppId::new());
        recent.put(&app(&a));
        recent.0.lock().unwrap().get_mut(a.as_str()).unwrap().0 = Instant::now() - FRESH_FOR;
        assert!(recent.get(&a).is_none());
    }
}
