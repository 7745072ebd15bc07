//! Plans for the unit tests: one way to make each.

use crate::calendar::ReportingSettings;
use crate::schema::{Dimension, ExtraItem, Measure, Plan, Target};

/// One dimension with a measure for every unit and a retired one for two,
/// and an item of the Budget division's own.
pub fn small_plan() -> Plan {
    Plan {
        title: "Kế hoạch cải thiện Chỉ số PAPI".into(),
        agency: "Sở Tài chính".into(),
        parent_agency: "UBND tỉnh Sóc Trăng".into(),
        province: "Sóc Trăng".into(),
        start_year: 2022,
        end_year: 2030,
        reporting: ReportingSettings::default(),
        legal_bases: vec!["Nghị quyết số 76/NQ-CP".into()],
        objective: "Vào nhóm 30 tỉnh đứng đầu".into(),
        targets: vec![Target {
            id: "province-top30".into(),
            text: "Nhóm 30 tỉnh".into(),
            kind: "province_rank_at_most".into(),
            value: 30,
            from_year: 2025,
            to_year: 2025,
        }],
        dimensions: vec![Dimension {
            number: 1,
            name: "Tham gia của người dân ở cấp cơ sở".into(),
            name_en: "Participation at local levels".into(),
            measures: vec![
                Measure {
                    id: "d1-m1".into(),
                    text: "Đẩy mạnh công tác thông tin, truyền thông".into(),
                    group: None,
                    units: vec!["*".into()],
                    retired: false,
                },
                Measure {
                    id: "d1-m2".into(),
                    text: "Nâng cao chất lượng dịch vụ y tế".into(),
                    group: Some("Y tế".into()),
                    units: vec!["van-phong".into(), "thanh-tra".into()],
                    retired: true,
                },
            ],
        }],
        extra_items: vec![ExtraItem {
            id: "ns-1".into(),
            unit: "phong-ngan-sach".into(),
            text: "Hướng dẫn công khai ngân sách".into(),
        }],
    }
}

/// Three dimensions with one measure each, for every unit.
pub fn plan_of_three() -> Plan {
    let measure = |id: &str| Measure {
        id: id.into(),
        text: format!("measure {id}"),
        group: None,
        units: vec!["*".into()],
        retired: false,
    };
    let dim = |number: u8| Dimension {
        number,
        name: format!("Dimension {number}"),
        name_en: format!("Dimension {number}"),
        measures: vec![measure(&format!("d{number}-m1"))],
    };
    Plan {
        title: "t".into(),
        agency: "a".into(),
        parent_agency: String::new(),
        province: "p".into(),
        start_year: 2022,
        end_year: 2030,
        reporting: Default::default(),
        legal_bases: vec![],
        objective: "o".into(),
        targets: vec![],
        dimensions: vec![dim(1), dim(2), dim(3)],
        extra_items: vec![],
    }
}
