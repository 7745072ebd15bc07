//! The workspace's plan: the document that holds it, and the plan file
//! (`papi::plan_file`) it is imported from and exported to. A production
//! workspace starts with an empty plan and no units; a demo workspace
//! imports the demo agency's plan file through the same path.

use automerge::Automerge;
use papi::api::{PlanImported, Problem};
use papi::ids::DocId;
use papi::plan_file::{self, PlanFile};
use papi::schema::Plan;

use crate::engine::Engine;

use crate::db::Db;
use crate::directory;
use crate::error::{ApiError, StartError};
use crate::AppState;

const DEMO_PLAN: &str = include_str!("../seed/demo-plan.yaml");
const PLAN_SETTING: &str = "plan_doc";

/// The demo agency's plan file (Sở Tài chính tỉnh Sóc Trăng).
#[cfg(test)]
pub fn demo_plan_file() -> PlanFile {
    // The file is part of the build and checked by a unit test.
    plan_file::parse(DEMO_PLAN).expect("seed/demo-plan.yaml is a valid plan file")
}

/// Returns the plan document's id, creating an empty plan on the first
/// start.
pub async fn ensure_plan(db: &Db, engine: &Engine) -> Result<DocId, StartError> {
    if let Some(text) = db.setting(PLAN_SETTING).await? {
        let id: DocId = text
            .parse()
            .map_err(|_| StartError::Corrupt(format!("plan id {text:?} is not a document id")))?;
        return if engine.exists(id).await {
            Ok(id)
        } else {
            Err(StartError::Corrupt(format!(
                "the plan document {id} is missing from storage"
            )))
        };
    }
    let mut doc = Automerge::new();
    Plan::empty()
        .write_new(&mut doc)
        .map_err(|e| StartError::Corrupt(format!("empty plan: {e}")))?;
    // `create` returns once the document is in storage, so the setting never
    // names a document that was not stored.
    let id = engine.create(doc).await;
    db.set_setting(PLAN_SETTING, id.to_string()).await?;
    tracing::info!(plan = %id, "created the plan document, empty until a plan is imported");
    Ok(id)
}

impl AppState {
    /// Imports the demo plan into a workspace that has none yet; returns
    /// whether it did.
    pub(crate) async fn seed_demo_plan(&self) -> Result<bool, ApiError> {
        if !self.plan().await?.is_empty() {
            return Ok(false);
        }
        self.import_plan(DEMO_PLAN).await?;
        tracing::info!("imported the demo plan");
        Ok(true)
    }

    /// Imports a plan file: all of it, or nothing when it has problems
    /// (`ApiError::Problems`, every one of them). Into a workspace that has
    /// a plan, measures are matched by id and the ones the file leaves out
    /// are retired; units are added or updated, never removed.
    pub async fn import_plan(&self, text: &str) -> Result<PlanImported, ApiError> {
        let file = plan_file::parse(text).map_err(ApiError::Problems)?;
        let plan = file.plan();
        let _one_at_a_time = self.importing.lock().await;
        let current = self.plan().await?;
        let mut problems = plan_file::moved_measures(&current, &plan);
        let first = current.is_empty();
        let units = directory::units(&self.db).await?;
        if let Some(root) = units.iter().find(|u| u.parent.is_none()) {
            if !first && root.id != file.agency.id {
                problems.push(Problem {
                    line: None,
                    place: "agency.id".into(),
                    vi: format!(
                        "kế hoạch này của cơ quan {:?}, không phải {:?} của hệ thống",
                        file.agency.id, root.id
                    ),
                    en: format!(
                        "this plan is for the agency {:?}, not this workspace's {:?}",
                        file.agency.id, root.id
                    ),
                });
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::Problems(problems));
        }
        // Units first: the plan's measures name them.
        let (units_added, units_changed) =
            directory::adopt_units(&self.db, file.units(), first).await?;
        let adopted = self
            .on_document(self.plan_id, "importing the plan", |d| plan.adopt(d))
            .await?
            .map_err(|e| ApiError::Internal(e.into()))?;
        let imported = PlanImported {
            measures_added: adopted.added,
            measures_changed: adopted.changed,
            measures_retired: adopted.retired,
            units_added,
            units_changed,
        };
        tracing::info!(agency = %file.agency.id, ?imported, "plan imported");
        Ok(imported)
    }

    /// The workspace's plan as a plan file.
    pub async fn export_plan(&self) -> Result<String, ApiError> {
        let plan = self.plan().await?;
        if plan.is_empty() {
            return Err(ApiError::Conflict(
                "there is no plan yet: import one first".into(),
            ));
        }
        let units = directory::units(&self.db).await?;
        let file = PlanFile::export(&plan, &units).map_err(ApiError::internal)?;
        Ok(file.to_yaml())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_plan_holds_the_eight_dimensions_in_vietnamese() {
        let file = demo_plan_file();
        let plan = file.plan();
        let names: Vec<&str> = plan.dimensions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 8);
        assert_eq!(names[0], "Tham gia của người dân ở cấp cơ sở");
        assert_eq!(names[7], "Quản trị điện tử");
        assert!(plan.dimensions.iter().all(|d| !d.measures.is_empty()));
        assert_eq!((plan.start_year, plan.end_year), (2022, 2030));
        assert_eq!(plan.extra_items.len(), 3);
        plan.reporting.validate().unwrap();
        assert_eq!(file.units()[0].name, "Sở Tài chính tỉnh Sóc Trăng");
        // The shipped file is what an export of it writes.
        assert_eq!(file.to_yaml(), DEMO_PLAN);
    }
}
