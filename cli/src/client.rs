//! The HTTP API as the CLI calls it: JSON in, JSON out, and the API's own
//! error message when it refuses.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error; its message is the one to show.
    #[error("{message} ({status} {code})")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the API at {api}: {reason}")]
    Unreachable { api: String, reason: String },
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Client {
    pub fn new(api: String, token: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            api,
            token,
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let mut req = self.http.post(self.url(path));
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        let unreachable = |e: reqwest::Error| ApiError::Unreachable {
            api: self.api.clone(),
            reason: e.to_string(),
        };
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let error = &body["error"];
        Err(ApiError::Refused {
            status,
            code: error["code"].as_str().unwrap_or("error").to_owned(),
            message: error["message"]
                .as_str()
                .unwrap_or("the API refused the request")
                .to_owned(),
        })
    }

    /// The app called `name_or_id` (an id is taken as is).
    pub async fn find_app(&self, name_or_id: &str) -> Result<Option<Value>, ApiError> {
        let apps = self.get("/apps").await?;
        Ok(apps["apps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == name_or_id || a["id"] == name_or_id)
            .cloned())
    }
}
