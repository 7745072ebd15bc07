//! First-start seeding: the demo plan, taken from the agency's plan document.

use automerge::Automerge;
use papi::schema::Plan;
use samod::{DocumentId, Repo};

use crate::db::Db;
use crate::error::StartError;

const PLAN_SEED: &str = include_str!("../seed/plan.json");
const PLAN_SETTING: &str = "plan_doc";

pub fn seed_plan() -> Plan {
    // The seed file is part of the build and checked by a unit test.
    serde_json::from_str(PLAN_SEED).expect("seed/plan.json is a valid plan")
}

/// Returns the plan document's id, creating the plan from the seed on the
/// first start.
pub async fn ensure_plan(db: &Db, repo: &Repo) -> Result<DocumentId, StartError> {
    if let Some(text) = db.setting(PLAN_SETTING).await? {
        let id: DocumentId = text
            .parse()
            .map_err(|_| StartError::Corrupt(format!("plan id {text:?} is not a document id")))?;
        return match repo
            .find(id.clone())
            .await
            .map_err(|_| StartError::Stopped)?
        {
            Some(_) => Ok(id),
            None => Err(StartError::Corrupt(format!(
                "the plan document {id} is missing from storage"
            ))),
        };
    }
    let mut doc = Automerge::new();
    seed_plan()
        .write_new(&mut doc)
        .map_err(|e| StartError::Corrupt(format!("seed plan: {e}")))?;
    // `create` returns once the document is in storage, so the setting never
    // names a document that was not stored.
    let handle = repo.create(doc).await.map_err(|_| StartError::Stopped)?;
    let id = handle.document_id().clone();
    db.set_setting(PLAN_SETTING, id.to_string()).await?;
    tracing::info!(plan = %id, "seeded the demo plan");
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_plan_holds_the_eight_dimensions_in_vietnamese() {
        let plan = seed_plan();
        let names: Vec<&str> = plan.dimensions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 8);
        assert_eq!(names[0], "Tham gia của người dân ở cấp cơ sở");
        assert_eq!(names[7], "Quản trị điện tử");
        assert!(plan.dimensions.iter().all(|d| !d.measures.is_empty()));
        assert_eq!((plan.start_year, plan.end_year), (2022, 2030));
        assert_eq!(plan.extra_items.len(), 3);
        plan.reporting.validate().unwrap();
    }
}
