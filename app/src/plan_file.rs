//! The plan file: an agency's whole plan in one human-editable YAML file —
//! the agency, its years and reporting days, its targets, its units and the
//! measures under each of the eight PAPI dimensions with the units that own
//! them. A workspace starts from one (`papi-server import-plan`, or the
//! admin page) and exports its plan in the same form, so a plan
//! round-trips. The format is described in `docs/plan-file.md`.
//!
//! Checking a file reports every problem it finds, each with its place,
//! in Vietnamese and English; a file with any problem imports nothing.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::api::{valid_unit_id, Problem, Unit, UnitKind};
use crate::calendar::{CalendarError, ReportingSettings};
use crate::schema::{Dimension, ExtraItem, Plan, Target};

/// The version of the format this build reads and writes.
pub const FORMAT: u32 = 1;

/// The target kinds the dashboard knows how to follow.
pub const TARGET_KINDS: [&str; 3] = [
    "province_rank_at_most",
    "province_rank_gain",
    "department_rank_gain",
];

/// The eight PAPI dimensions are numbered 1 to 8.
pub const DIMENSIONS: u8 = 8;

/// The eight PAPI dimensions' standard names, in Vietnamese and English:
/// what a plan file that leaves a name out gets.
pub const STANDARD_NAMES: [(&str, &str); DIMENSIONS as usize] = [
    (
        "Tham gia của người dân ở cấp cơ sở",
        "Participation at local levels",
    ),
    (
        "Công khai, minh bạch trong hoạch định chính sách",
        "Transparency in decision making",
    ),
    (
        "Trách nhiệm giải trình với người dân",
        "Vertical accountability",
    ),
    (
        "Kiểm soát tham nhũng trong khu vực công",
        "Control of corruption in the public sector",
    ),
    (
        "Thủ tục hành chính công",
        "Public administrative procedures",
    ),
    ("Cung ứng dịch vụ công", "Public service delivery"),
    ("Quản trị môi trường", "Environmental governance"),
    ("Quản trị điện tử", "E-governance"),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub format: u32,
    pub agency: Agency,
    pub province: String,
    pub title: String,
    pub start_year: i32,
    pub end_year: i32,
    pub reporting: ReportingSettings,
    #[serde(default)]
    pub legal_bases: Vec<String>,
    #[serde(default)]
    pub objective: String,
    #[serde(default)]
    pub targets: Vec<Target>,
    /// The agency's units; a unit without `parent` sits under the agency.
    pub units: Vec<FileUnit>,
    pub dimensions: Vec<Dimension>,
    #[serde(default)]
    pub extra_items: Vec<ExtraItem>,
}

/// The agency that owns the plan: the top of the unit tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: String,
    pub name: String,
    /// The agency it answers to, as official documents name it above its
    /// own name.
    #[serde(default)]
    pub parent: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUnit {
    pub id: String,
    pub name: String,
    pub kind: UnitKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Reads and checks a plan file. `Err` holds every problem found (a
/// syntax error stops the reading, so it comes alone).
pub fn parse(text: &str) -> Result<PlanFile, Vec<Problem>> {
    let mut file: PlanFile = serde_norway::from_str(text).map_err(|e| vec![syntax(&e)])?;
    // The eight dimensions are PAPI's: a name left out is the standard one.
    for d in &mut file.dimensions {
        let Some((vi, en)) = STANDARD_NAMES.get(usize::from(d.number).wrapping_sub(1)) else {
            continue;
        };
        if d.name.trim().is_empty() {
            d.name = vi.to_string();
        }
        if d.name_en.trim().is_empty() {
            d.name_en = en.to_string();
        }
    }
    let problems = file.problems(text);
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems)
    }
}

fn syntax(error: &serde_norway::Error) -> Problem {
    let message = error.to_string();
    Problem {
        line: error.location().map(|l| l.line()),
        place: String::new(),
        vi: format!("tệp không đọc được: {message}"),
        en: format!("the file cannot be read: {message}"),
    }
}

impl PlanFile {
    /// The plan file of a workspace: its plan and its unit tree (the top
    /// unit is the agency).
    pub fn export(plan: &Plan, units: &[Unit]) -> Result<PlanFile, String> {
        let agency = units
            .iter()
            .find(|u| u.parent.is_none())
            .ok_or("the workspace has no units")?;
        Ok(PlanFile {
            format: FORMAT,
            agency: Agency {
                id: agency.id.clone(),
                name: plan.agency.clone(),
                parent: plan.parent_agency.clone(),
            },
            province: plan.province.clone(),
            title: plan.title.clone(),
            start_year: plan.start_year,
            end_year: plan.end_year,
            reporting: plan.reporting,
            legal_bases: plan.legal_bases.clone(),
            objective: plan.objective.clone(),
            targets: plan.targets.clone(),
            units: units
                .iter()
                .filter(|u| u.id != agency.id)
                .map(|u| FileUnit {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    kind: u.kind,
                    parent: u.parent.clone().filter(|p| *p != agency.id),
                })
                .collect(),
            dimensions: plan.dimensions.clone(),
            extra_items: plan.extra_items.clone(),
        })
    }

    /// The file as YAML, with a heading that says what it is.
    pub fn to_yaml(&self) -> String {
        let body = serde_norway::to_string(self).unwrap_or_default();
        format!(
            "# Kế hoạch PAPI — tệp kế hoạch (định dạng {FORMAT}); xem docs/plan-file.md\n\
             # PAPI plan file (format {FORMAT}); see docs/plan-file.md\n{body}"
        )
    }

    /// The plan the file describes.
    pub fn plan(&self) -> Plan {
        Plan {
            title: self.title.trim().to_string(),
            agency: self.agency.name.trim().to_string(),
            parent_agency: self.agency.parent.trim().to_string(),
            province: self.province.trim().to_string(),
            start_year: self.start_year,
            end_year: self.end_year,
            reporting: self.reporting,
            legal_bases: self.legal_bases.clone(),
            objective: self.objective.clone(),
            targets: self.targets.clone(),
            dimensions: self.dimensions.clone(),
            extra_items: self.extra_items.clone(),
        }
    }

    /// The unit tree the file describes, the agency first, every parent
    /// before its children.
    pub fn units(&self) -> Vec<Unit> {
        let mut units = vec![Unit {
            id: self.agency.id.clone(),
            name: self.agency.name.trim().to_string(),
            kind: UnitKind::Agency,
            parent: None,
        }];
        let mut pending: Vec<&FileUnit> = self.units.iter().collect();
        // A checked file has no cycles, so each pass places at least one.
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|u| {
                let parent = u.parent.clone().unwrap_or_else(|| self.agency.id.clone());
                if units.iter().any(|p| p.id == parent) {
                    units.push(Unit {
                        id: u.id.clone(),
                        name: u.name.trim().to_string(),
                        kind: u.kind,
                        parent: Some(parent),
                    });
                    false
                } else {
                    true
                }
            });
            if pending.len() == before {
                break;
            }
        }
        units
    }

    /// Every problem of the file. `text` is the file itself, to give each
    /// problem its line where it can be found.
    pub fn problems(&self, text: &str) -> Vec<Problem> {
        let mut out = Problems {
            text,
            found: Vec::new(),
        };
        if self.format != FORMAT {
            out.add(
                "format",
                ("format", &self.format.to_string()),
                format!("định dạng {} không được hỗ trợ (chỉ {FORMAT})", self.format),
                format!("format {} is not supported (only {FORMAT})", self.format),
            );
        }
        if !valid_unit_id(&self.agency.id) {
            out.add(
                "agency.id",
                ("id", &self.agency.id),
                "mã cơ quan gồm 2–64 chữ thường không dấu, chữ số hoặc '-'".into(),
                "the agency's id is 2–64 lowercase letters, digits or '-'".into(),
            );
        }
        for (place, value) in [
            ("agency.name", &self.agency.name),
            ("title", &self.title),
            ("province", &self.province),
        ] {
            if value.trim().is_empty() {
                let key = place.rsplit('.').next().unwrap_or(place);
                out.add(
                    place,
                    (key, ""),
                    "không được để trống".into(),
                    "must not be empty".into(),
                );
            }
        }
        self.check_years_and_days(&mut out);
        self.check_targets(&mut out);
        let units = self.check_units(&mut out);
        self.check_dimensions(&mut out, &units);
        self.check_extra_items(&mut out, &units);
        out.found
    }

    fn check_years_and_days(&self, out: &mut Problems) {
        let (start, end) = (self.start_year, self.end_year);
        for (place, year) in [("start_year", start), ("end_year", end)] {
            if !(2000..=2100).contains(&year) {
                out.add(
                    place,
                    (place, &year.to_string()),
                    format!("năm {year} nằm ngoài 2000–2100"),
                    format!("the year {year} is outside 2000–2100"),
                );
            }
        }
        if start > end {
            out.add(
                "end_year",
                ("end_year", &end.to_string()),
                format!("kế hoạch kết thúc ({end}) trước khi bắt đầu ({start})"),
                format!("the plan ends ({end}) before it starts ({start})"),
            );
        }
        let mut bad_day = false;
        for (key, due) in [
            ("half_year_due", self.reporting.half_year_due),
            ("annual_due", self.reporting.annual_due),
        ] {
            let alone = ReportingSettings {
                half_year_due: due,
                annual_due: crate::calendar::DueDay { month: 12, day: 31 },
            };
            if let Err(CalendarError::NoSuchDay { month, day }) = alone.validate() {
                out.add(
                    &format!("reporting.{key}"),
                    (key, ""),
                    format!("ngày {day}/{month} không có trong năm (hạn báo cáo phải là một ngày trong năm)"),
                    format!("{day}/{month} is not a day of the year (a deadline must fall within the year)"),
                );
                bad_day = true;
            }
        }
        if !bad_day && self.reporting.validate() == Err(CalendarError::DueDaysOutOfOrder) {
            out.add(
                "reporting",
                ("annual_due", ""),
                "hạn báo cáo 6 tháng phải trước hạn báo cáo năm".into(),
                "the half-year report must fall due before the annual report".into(),
            );
        }
    }

    fn check_targets(&self, out: &mut Problems) {
        let mut seen = HashSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let place = format!("targets[{i}] ({})", t.id);
            let at = ("id", t.id.as_str());
            if t.id.trim().is_empty() || !seen.insert(t.id.as_str()) {
                out.add(
                    &place,
                    at,
                    "mã chỉ tiêu trống hoặc trùng".into(),
                    "the target's id is empty or repeated".into(),
                );
            }
            if t.text.trim().is_empty() {
                out.add(
                    &place,
                    at,
                    "chỉ tiêu chưa có nội dung".into(),
                    "the target has no text".into(),
                );
            }
            if !TARGET_KINDS.contains(&t.kind.as_str()) {
                out.add(
                    &place,
                    ("kind", &t.kind),
                    format!(
                        "loại chỉ tiêu {:?} không có; dùng {}",
                        t.kind,
                        TARGET_KINDS.join(", ")
                    ),
                    format!(
                        "no target kind {:?}; use {}",
                        t.kind,
                        TARGET_KINDS.join(", ")
                    ),
                );
            }
            if t.from_year > t.to_year || t.from_year < self.start_year || t.to_year > self.end_year
            {
                out.add(
                    &place,
                    at,
                    format!(
                        "năm của chỉ tiêu ({}–{}) phải nằm trong kế hoạch ({}–{})",
                        t.from_year, t.to_year, self.start_year, self.end_year
                    ),
                    format!(
                        "the target's years ({}–{}) must lie within the plan ({}–{})",
                        t.from_year, t.to_year, self.start_year, self.end_year
                    ),
                );
            }
        }
    }

    /// Checks the unit tree; returns the ids a measure may name.
    fn check_units(&self, out: &mut Problems) -> HashSet<String> {
        let mut ids: HashSet<String> = HashSet::from([self.agency.id.clone()]);
        for (i, u) in self.units.iter().enumerate() {
            let place = format!("units[{i}] ({})", u.id);
            let at = ("id", u.id.as_str());
            if !valid_unit_id(&u.id) {
                out.add(
                    &place,
                    at,
                    "mã đơn vị gồm 2–64 chữ thường không dấu, chữ số hoặc '-'".into(),
                    "a unit's id is 2–64 lowercase letters, digits or '-'".into(),
                );
            } else if !ids.insert(u.id.clone()) {
                out.add(
                    &place,
                    at,
                    format!("mã đơn vị {:?} bị trùng", u.id),
                    format!("the unit id {:?} is repeated", u.id),
                );
            }
            if u.name.trim().is_empty() {
                out.add(
                    &place,
                    at,
                    "đơn vị chưa có tên".into(),
                    "the unit has no name".into(),
                );
            }
            if u.kind == UnitKind::Agency {
                out.add(
                    &place,
                    at,
                    "chỉ cơ quan (agency) mới có loại agency".into(),
                    "only the agency itself is of kind agency".into(),
                );
            }
        }
        let parents: BTreeMap<&str, &str> = self
            .units
            .iter()
            .map(|u| {
                (
                    u.id.as_str(),
                    u.parent.as_deref().unwrap_or(self.agency.id.as_str()),
                )
            })
            .collect();
        for (i, u) in self.units.iter().enumerate() {
            let place = format!("units[{i}] ({})", u.id);
            if let Some(parent) = &u.parent {
                if !ids.contains(parent) {
                    out.add(
                        &place,
                        ("parent", parent),
                        format!("không có đơn vị cấp trên {parent:?}"),
                        format!("there is no parent unit {parent:?}"),
                    );
                    continue;
                }
            }
            // Following parents must reach the agency.
            let mut at = u.id.as_str();
            for _ in 0..=self.units.len() {
                match parents.get(at) {
                    Some(p) => at = p,
                    None => break,
                }
            }
            if at != self.agency.id && parents.contains_key(at) {
                out.add(
                    &place,
                    ("id", &u.id),
                    "cây đơn vị có vòng lặp cấp trên".into(),
                    "the unit tree has a loop of parents".into(),
                );
            }
        }
        ids
    }

    fn check_dimensions(&self, out: &mut Problems, units: &HashSet<String>) {
        let mut numbers = HashSet::new();
        let mut measure_ids = HashSet::new();
        for (i, d) in self.dimensions.iter().enumerate() {
            let place = format!("dimensions[{i}]");
            let at = ("number", d.number.to_string());
            if !(1..=DIMENSIONS).contains(&d.number) {
                out.add(
                    &place,
                    (at.0, &at.1),
                    format!(
                        "không có lĩnh vực số {} (PAPI có 8 lĩnh vực, 1–8)",
                        d.number
                    ),
                    format!(
                        "there is no dimension {} (PAPI has 8, numbered 1–8)",
                        d.number
                    ),
                );
            } else if !numbers.insert(d.number) {
                out.add(
                    &place,
                    (at.0, &at.1),
                    format!("lĩnh vực {} xuất hiện hai lần", d.number),
                    format!("dimension {} appears twice", d.number),
                );
            }
            if d.name.trim().is_empty() {
                out.add(
                    &place,
                    (at.0, &at.1),
                    "lĩnh vực chưa có tên".into(),
                    "the dimension has no name".into(),
                );
            }
            for (j, m) in d.measures.iter().enumerate() {
                let place = format!("{place}.measures[{j}] ({})", m.id);
                let at = ("id", m.id.as_str());
                if m.id.trim().is_empty() || m.id.chars().any(char::is_whitespace) {
                    out.add(
                        &place,
                        at,
                        "mã giải pháp không được trống hay có khoảng trắng".into(),
                        "a measure's id must not be empty or contain spaces".into(),
                    );
                } else if !measure_ids.insert(m.id.as_str()) {
                    out.add(
                        &place,
                        at,
                        format!("mã giải pháp {:?} bị trùng", m.id),
                        format!("the measure id {:?} is repeated", m.id),
                    );
                }
                if m.text.trim().is_empty() {
                    out.add(
                        &place,
                        at,
                        "giải pháp chưa có nội dung".into(),
                        "the measure has no text".into(),
                    );
                }
                if m.units.is_empty() {
                    out.add(
                        &place,
                        at,
                        "giải pháp chưa có đơn vị thực hiện (dùng \"*\" cho mọi đơn vị)".into(),
                        "the measure has no owning unit (use \"*\" for every unit)".into(),
                    );
                }
                for unit in m.units.iter().filter(|u| *u != "*" && !units.contains(*u)) {
                    out.add(
                        &place,
                        at,
                        format!("không có đơn vị {unit:?}"),
                        format!("there is no unit {unit:?}"),
                    );
                }
            }
        }
        let missing: Vec<String> = (1..=DIMENSIONS)
            .filter(|n| !numbers.contains(n))
            .map(|n| n.to_string())
            .collect();
        if !missing.is_empty() {
            out.add(
                "dimensions",
                ("dimensions", ""),
                format!("thiếu lĩnh vực {}", missing.join(", ")),
                format!("dimension {} is missing", missing.join(", ")),
            );
        }
    }

    fn check_extra_items(&self, out: &mut Problems, units: &HashSet<String>) {
        let mut seen = HashSet::new();
        for (i, e) in self.extra_items.iter().enumerate() {
            let place = format!("extra_items[{i}] ({})", e.id);
            let at = ("id", e.id.as_str());
            if e.id.trim().is_empty() || !seen.insert(e.id.as_str()) {
                out.add(
                    &place,
                    at,
                    "mã mục trống hoặc trùng".into(),
                    "the item's id is empty or repeated".into(),
                );
            }
            if !units.contains(&e.unit) {
                out.add(
                    &place,
                    at,
                    format!("không có đơn vị {:?}", e.unit),
                    format!("there is no unit {:?}", e.unit),
                );
            }
            if e.text.trim().is_empty() {
                out.add(
                    &place,
                    at,
                    "mục chưa có nội dung".into(),
                    "the item has no text".into(),
                );
            }
        }
    }
}

/// Measures whose dimension the file changes: a measure keeps its
/// dimension for life (reports file their text under it), so a moved
/// measure needs a new id.
pub fn moved_measures(current: &Plan, new: &Plan) -> Vec<Problem> {
    let mut out = Vec::new();
    for d in &new.dimensions {
        for m in &d.measures {
            let before = current
                .dimensions
                .iter()
                .find(|cd| cd.measures.iter().any(|cm| cm.id == m.id));
            if let Some(before) = before.filter(|b| b.number != d.number) {
                out.push(Problem {
                    line: None,
                    place: format!("dimensions ({}) measure {}", d.number, m.id),
                    vi: format!(
                        "giải pháp {} đang thuộc lĩnh vực {}, không chuyển sang lĩnh vực {} được; hãy đặt mã mới",
                        m.id, before.number, d.number
                    ),
                    en: format!(
                        "measure {} belongs to dimension {} and cannot move to dimension {}; give it a new id",
                        m.id, before.number, d.number
                    ),
                });
            }
        }
    }
    out
}

/// Problems found so far, and the file to find their lines in.
struct Problems<'a> {
    text: &'a str,
    found: Vec<Problem>,
}

impl Problems<'_> {
    /// Adds a problem at `place`; `(key, value)` is a line of the file
    /// that marks it (`id: d1-m1`), used to find its line number.
    fn add(&mut self, place: &str, (key, value): (&str, &str), vi: String, en: String) {
        self.found.push(Problem {
            line: line_of(self.text, key, value),
            place: place.to_string(),
            vi,
            en,
        });
    }
}

/// The first line (from 1) that reads `key: value`, perhaps after a list's
/// `- ` and with the value quoted; with an empty value, the first line
/// that starts with `key:`.
fn line_of(text: &str, key: &str, value: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
            let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
                return false;
            };
            let rest = rest.trim();
            value.is_empty() || rest.trim_matches(|c| c == '"' || c == '\'') == value
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISTRICT: &str = include_str!("../../tests/data/district-plan.yaml");

    #[test]
    fn a_district_plan_reads_and_round_trips() {
        let file = parse(DISTRICT).unwrap_or_else(|p| panic!("{p:#?}"));
        let plan = file.plan();
        assert_eq!(plan.dimensions.len(), 8);
        let units = file.units();
        assert_eq!(units[0].kind, UnitKind::Agency);
        assert!(units.iter().skip(1).all(|u| u.parent.is_some()));
        let again = PlanFile::export(&plan, &units).unwrap();
        assert_eq!(again, file);
        assert_eq!(parse(&again.to_yaml()).unwrap(), file);
    }

    #[test]
    fn a_dimension_without_names_gets_the_standard_ones_and_its_own_names_stay() {
        // The district plan's dimension 3 with no names at all, and 5 with
        // only its Vietnamese name, its own.
        let text = DISTRICT
            .replacen("  name: Trách nhiệm giải trình với người dân\n", "", 1)
            .replacen("  name_en: Vertical accountability\n", "", 1)
            .replacen(
                "  name: Thủ tục hành chính công\n",
                "  name: Thủ tục hành chính (huyện)\n",
                1,
            )
            .replacen("  name_en: Public administrative procedures\n", "", 1);
        assert_ne!(text, DISTRICT);
        let plan = parse(&text).unwrap_or_else(|p| panic!("{p:#?}")).plan();
        let d3 = &plan.dimensions[2];
        assert_eq!(
            (d3.name.as_str(), d3.name_en.as_str()),
            (
                "Trách nhiệm giải trình với người dân",
                "Vertical accountability"
            )
        );
        let d5 = &plan.dimensions[4];
        assert_eq!(
            (d5.name.as_str(), d5.name_en.as_str()),
            (
                "Thủ tục hành chính (huyện)",
                "Public administrative procedures"
            )
        );
        // And every standard name is what the demo plan names them.
        let demo = parse(include_str!("../../server/seed/demo-plan.yaml")).unwrap();
        for (d, (vi, en)) in demo.dimensions.iter().zip(STANDARD_NAMES) {
            assert_eq!((d.name.as_str(), d.name_en.as_str()), (vi, en));
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let bad = DISTRICT
            .replacen("number: 8", "number: 9", 1)
            .replacen("units: [van-phong]", "units: [phong-khong-co]", 1)
            .replacen("month: 12", "month: 13", 1);
        let problems = parse(&bad).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter().any(|p| p.contains("no dimension 9")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|p| p.contains("dimension 8 is missing")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|p| p.contains("no unit \"phong-khong-co\"")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|p| p.contains("13") && p.contains("not a day")),
            "{text:#?}"
        );
        assert!(problems.iter().all(|p| p.line.is_some()), "{problems:#?}");
        assert!(problems
            .iter()
            .all(|p| !p.vi.is_empty() && !p.en.is_empty()));
    }

    #[test]
    fn both_bad_deadlines_and_a_misspelt_key_inside_a_measure_are_reported() {
        let both = DISTRICT.replacen("month: 6", "month: 13", 1).replacen(
            "month: 12\n    day: 10",
            "month: 12\n    day: 32",
            1,
        );
        let problems = parse(&both).unwrap_err();
        assert_eq!(
            problems
                .iter()
                .filter(|p| p.en.contains("not a day"))
                .count(),
            2,
            "{problems:#?}"
        );
        let typo = DISTRICT.replacen(
            "    units: [phong-noi-vu]",
            "    units: [phong-noi-vu]\n    retierd: true",
            1,
        );
        let problems = parse(&typo).unwrap_err();
        assert!(problems[0].en.contains("retierd"), "{problems:?}");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let problems = parse("format: 1\nagency: [\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].line.is_some(), "{problems:?}");
        let unknown = parse(&DISTRICT.replacen("province:", "provinse:", 1)).unwrap_err();
        assert!(unknown[0].en.contains("provinse"), "{unknown:?}");
    }

    #[test]
    fn a_measure_cannot_change_dimension() {
        let plan = parse(DISTRICT).unwrap().plan();
        let mut moved = plan.clone();
        let m = moved.dimensions[0].measures.remove(0);
        moved.dimensions[1].measures.push(m);
        let problems = moved_measures(&plan, &moved);
        assert_eq!(problems.len(), 1);
        assert!(moved_measures(&plan, &plan).is_empty());
    }
}
