use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::RngCore;

const FILE_NAME: &str = "dev-jwt-secret";

/// The development signing secret, created once in the data folder so that
/// tokens printed earlier keep working after a restart. Only the owner may
/// read the file.
pub fn load_or_create_dev_secret(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    fs::create_dir_all(data_dir)?;
    let path = data_dir.join(FILE_NAME);
    if let Some(secret) = read(&path)? {
        return Ok(secret);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written aside and linked into place, so that a process starting beside
    // this one sees either no secret or the whole of it.
    let staged = data_dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    let linked = fs::hard_link(&staged, &path);
    fs::remove_file(&staged)?;
    match linked {
        Ok(()) => Ok(secret.into_bytes()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            read(&path)?.ok_or_else(|| ErrorKind::NotFound.into())
        }
        Err(error) => Err(error),
    }
}

fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().as_bytes().to_vec())),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_dev_secret(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_dev_secret(dir.path()).unwrap(), first);
    }
}
