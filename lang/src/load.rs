//! Finding and reading `.rules` files.
//!
//! Invariant: the files come out sorted by path and without duplicates,
//! whatever order the paths were given in, because that order is the rules'
//! declaration order and breaks ties between overlapping matches.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why the given paths could not be read. A file that is read but is not
/// valid UTF-8 is not a load error: it gets a diagnostic.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("`{}` holds no `*.rules` file{}", path.display(), near_misses(.near))]
    NoRules {
        path: PathBuf,
        /// Files there whose name looks meant to be a rules file.
        near: Vec<String>,
    },
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn near_misses(near: &[String]) -> String {
    if near.is_empty() {
        return " (a directory loads the `*.rules` files directly inside it)".to_owned();
    }
    let names: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
    format!(
        "; found {}: rename to end in `.rules` to load",
        names.join(", ")
    )
}

impl LoadError {
    fn io(path: &Path, source: io::Error) -> LoadError {
        if source.kind() == io::ErrorKind::NotFound {
            LoadError::NotFound { path: path.into() }
        } else {
            LoadError::Io {
                path: path.into(),
                source,
            }
        }
    }
}

/// Every file to check: files as given, and the `*.rules` files directly
/// inside each directory given. Subdirectories are not entered: they hold
/// packs that are not active (`rules/policy-examples/`), which a user loads
/// by naming them.
pub(crate) fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|e| LoadError::io(path, e))?;
        if metadata.is_dir() {
            rules_in(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// A directory given with no rules in it is an error, not an empty rule
/// set: a gateway that started with no rules would enforce nothing.
fn rules_in(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let before = files.len();
    let mut near = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| LoadError::io(&path, e))?;
        if kind.is_dir() {
            continue;
        }
        if path.extension().is_some_and(|ext| ext == "rules") {
            // A link to a file counts; a link to a directory does not.
            let is_file = kind.is_file() || fs::metadata(&path).is_ok_and(|m| m.is_file());
            if is_file {
                files.push(path);
            }
        } else if let Some(name) = path.file_name().map(|n| n.to_string_lossy()) {
            if name.to_ascii_lowercase().contains("rule") {
                near.push(name.into_owned());
            }
        }
    }
    if files.len() == before {
        near.sort();
        return Err(LoadError::NoRules {
            path: dir.into(),
            near,
        });
    }
    Ok(())
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    fs::read(path).map_err(|e| LoadError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_files_come_in_path_order_without_subdirectories() {
        let dir = std::env::temp_dir().join(format!("rulegate-load-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("b")).unwrap();
        fs::write(dir.join("b/z.rules"), "").unwrap();
        fs::write(dir.join("c.rules"), "").unwrap();
        fs::write(dir.join("a.rules"), "").unwrap();
        fs::write(dir.join("notes.txt"), "").unwrap();
        let names = |paths: &[PathBuf]| -> Vec<String> {
            collect(paths)
                .unwrap()
                .iter()
                .map(|f| f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(&[dir.clone(), dir.join("a.rules")]),
            ["a.rules", "c.rules"]
        );
        assert_eq!(
            names(&[dir.join("b"), dir.clone()]),
            ["a.rules", "b/z.rules", "c.rules"]
        );
        assert!(matches!(
            collect(&[dir.join("missing")]),
            Err(LoadError::NotFound { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_without_rules_is_an_error_naming_near_misses() {
        let dir = std::env::temp_dir().join(format!("rulegate-norules-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("company.rule"), "").unwrap();
        fs::write(dir.join("README.md"), "").unwrap();
        let error = collect(std::slice::from_ref(&dir)).unwrap_err();
        assert!(matches!(&error, LoadError::NoRules { near, .. } if near == &["company.rule"]));
        assert!(
            error.to_string().ends_with(
                "holds no `*.rules` file; found `company.rule`: rename to end in `.rules` to load"
            ),
            "{error}"
        );
        fs::remove_file(dir.join("company.rule")).unwrap();
        let error = collect(std::slice::from_ref(&dir)).unwrap_err().to_string();
        assert!(error.contains("directly inside it"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
