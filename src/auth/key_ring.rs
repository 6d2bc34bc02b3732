//! The keys in use and where they come from. A JWKS published at a URL is
//! cached: refreshed on a timer, and at once when a token names a key id the
//! set does not hold (a provider rotating its keys), but not more often than
//! the cooldown allows, so that made-up key ids cannot make us hammer the
//! provider. A failed refresh keeps the keys already known.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use tokio::time::Instant;
use url::Url;

use super::TokenError;
use super::keys::{PUBLIC_KEY_ALGORITHMS, VerificationKey};

/// A JWKS document larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// An HS256 secret shared with the provider.
    Secret(Vec<u8>),
    /// A PEM public key file.
    PublicKeyFile(PathBuf),
    /// A JWKS document on disk.
    JwksFile(PathBuf),
    /// The provider's published JWKS.
    JwksUrl(Url),
}

impl KeySource {
    fn describe(&self) -> String {
        match self {
            KeySource::Secret(_) => "JWT_SECRET".into(),
            KeySource::PublicKeyFile(path) => format!("JWT_PUBLIC_KEY_FILE {}", path.display()),
            KeySource::JwksFile(path) => format!("JWT_JWKS_FILE {}", path.display()),
            KeySource::JwksUrl(url) => format!("JWT_JWKS_URL {url}"),
        }
    }
}

/// How often a key set is read again.
#[derive(Debug, Clone, Copy)]
pub struct KeyRefresh {
    /// The timer: files and URLs are read again this often.
    pub every: Duration,
    /// The least time between two fetches caused by unknown key ids.
    pub cooldown: Duration,
}

impl Default for KeyRefresh {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(300),
            cooldown: Duration::from_secs(30),
        }
    }
}

pub struct KeyRing {
    source: KeySource,
    refresh: KeyRefresh,
    keys: RwLock<Arc<[VerificationKey]>>,
    /// Counts key set replacements, so that requests that waited for a
    /// refresh see that one happened instead of starting another.
    generation: AtomicU64,
    last_on_demand: tokio::sync::Mutex<Option<Instant>>,
    client: reqwest::Client,
}

enum Lookup {
    Found(VerificationKey),
    UnknownKid,
    AlgorithmNotAccepted,
}

impl KeyRing {
    /// Reads the keys. A key file that cannot be read stops the start; an
    /// unreachable JWKS URL does not (it is fetched again on demand).
    pub async fn load(source: KeySource, refresh: KeyRefresh) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .map_err(|error| format!("cannot build the JWKS client: {error}"))?;
        let ring = Self {
            source,
            refresh,
            keys: RwLock::new(Arc::from(Vec::new())),
            generation: AtomicU64::new(0),
            last_on_demand: tokio::sync::Mutex::new(None),
            client,
        };
        match (ring.read_source().await, &ring.source) {
            (Ok(keys), _) => ring.replace(keys),
            (Err(error), KeySource::JwksUrl(url)) => {
                tracing::error!(%url, %error, "cannot fetch the JWKS yet; tokens are refused until it is fetched");
            }
            (Err(error), source) => return Err(format!("{}: {error}", source.describe())),
        }
        Ok(ring)
    }

    /// The key for a token's `kid` and `alg`.
    pub async fn find(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<VerificationKey, TokenError> {
        if !self.accepts(algorithm) {
            return Err(algorithm_not_accepted());
        }
        let generation = self.generation.load(Ordering::Acquire);
        match self.lookup(kid, algorithm) {
            Lookup::Found(key) => return Ok(key),
            Lookup::AlgorithmNotAccepted => return Err(algorithm_not_accepted()),
            Lookup::UnknownKid => {}
        }
        if kid.is_some() && matches!(self.source, KeySource::JwksUrl(_)) {
            self.refresh_on_demand(generation).await;
            if let Lookup::Found(key) = self.lookup(kid, algorithm) {
                return Ok(key);
            }
        }
        Err(TokenError::Invalid("unknown signing key (kid)".into()))
    }

    /// Reads the key set again every `refresh.every`, for as long as it runs.
    pub async fn refresh_periodically(self: Arc<Self>) {
        if matches!(self.source, KeySource::Secret(_)) {
            return;
        }
        let mut timer = tokio::time::interval(self.refresh.every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer.tick().await;
        loop {
            timer.tick().await;
            self.reload().await;
        }
    }

    fn lookup(&self, kid: Option<&str>, algorithm: Algorithm) -> Lookup {
        let keys = self.current();
        if let Some(key) =
            kid.and_then(|kid| keys.iter().find(|key| key.kid.as_deref() == Some(kid)))
        {
            return if key.algorithm == algorithm {
                Lookup::Found(key.clone())
            } else {
                Lookup::AlgorithmNotAccepted
            };
        }
        if let Some(key) = keys
            .iter()
            .find(|key| key.kid.is_none() && key.algorithm == algorithm)
        {
            return Lookup::Found(key.clone());
        }
        // A token without a kid is fine while only one key could have signed it.
        let mut candidates = keys.iter().filter(|key| key.algorithm == algorithm);
        match (kid, candidates.next(), candidates.next()) {
            (None, Some(only), None) => Lookup::Found(only.clone()),
            _ => Lookup::UnknownKid,
        }
    }

    /// HS256 with a shared secret, public-key algorithms otherwise: a token
    /// signed with a public key as an HMAC secret is refused here.
    fn accepts(&self, algorithm: Algorithm) -> bool {
        match self.source {
            KeySource::Secret(_) => algorithm == Algorithm::HS256,
            _ => PUBLIC_KEY_ALGORITHMS.contains(&algorithm),
        }
    }

    async fn refresh_on_demand(&self, seen_generation: u64) {
        let mut last = self.last_on_demand.lock().await;
        if self.generation.load(Ordering::Acquire) != seen_generation {
            return;
        }
        if last.is_some_and(|at| at.elapsed() < self.refresh.cooldown) {
            return;
        }
        *last = Some(Instant::now());
        self.reload().await;
    }

    async fn reload(&self) {
        match self.read_source().await {
            Ok(keys) => self.replace(keys),
            Err(error) => tracing::warn!(
                source = %self.source.describe(),
                %error,
                "cannot refresh the signing keys; keeping the ones known"
            ),
        }
    }

    fn current(&self) -> Arc<[VerificationKey]> {
        crate::sync::read(&self.keys).clone()
    }

    fn replace(&self, keys: Vec<VerificationKey>) {
        let keys: Arc<[VerificationKey]> = Arc::from(keys);
        *crate::sync::write(&self.keys) = keys;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    async fn read_source(&self) -> Result<Vec<VerificationKey>, String> {
        match &self.source {
            KeySource::Secret(secret) => Ok(vec![VerificationKey::secret(secret)]),
            KeySource::PublicKeyFile(path) => {
                let pem = tokio::fs::read(path)
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(vec![VerificationKey::from_pem(&pem)?])
            }
            KeySource::JwksFile(path) => {
                let document = tokio::fs::read(path)
                    .await
                    .map_err(|error| error.to_string())?;
                VerificationKey::from_jwks(&document)
            }
            KeySource::JwksUrl(url) => VerificationKey::from_jwks(&self.fetch(url).await?),
        }
    }

    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("fetching failed: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut document = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("reading failed: {error}"))?
        {
            if document.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!(
                    "the document is larger than {MAX_JWKS_BYTES} bytes"
                ));
            }
            document.extend_from_slice(&chunk);
        }
        Ok(document)
    }
}

fn algorithm_not_accepted() -> TokenError {
    TokenError::Invalid("algorithm not accepted".into())
}
