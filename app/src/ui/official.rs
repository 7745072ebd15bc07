//! A report as an official document (Decree 30/2020): the fields the unit
//! fills in for it, kept in the report document; the DOCX file, written on
//! the device by the export worker (`app/official-worker.js`, whose wasm
//! module is fetched on the first export only); and a print view with the
//! same layout, for "Print → Save as PDF" on a phone.

use leptos::prelude::*;
use papi_official::{Day, OfficialDocument, MOTTO, NATIONAL_TITLE};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::i18n::t;
use super::repo::{follow, repo};
use crate::calendar::LocalDate;
use crate::ids::DocId;
use crate::report::official::{self, FIELDS};
use crate::schema::Plan;

/// Today in Vietnam, as the document is dated.
fn today() -> Day {
    let d = LocalDate::from_ms(js_sys::Date::now() as i64);
    Day {
        day: d.day,
        month: d.month,
        year: d.year,
    }
}

/// The official document of report `doc`, built on the device.
fn build(doc: DocId, plan: DocId, names: &[(String, String)]) -> Result<OfficialDocument, String> {
    let plan = repo()
        .read(plan, Plan::read)
        .and_then(Result::ok)
        .ok_or_else(|| t!("official.no_plan").to_string())?;
    let name = |unit: &str| {
        names
            .iter()
            .find(|(id, _)| id == unit)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| unit.to_string())
    };
    repo()
        .read(doc, |d| official::document(d, &plan, name, today()))
        .flatten()
        .ok_or_else(|| t!("doc.not_a_report").to_string())
}

thread_local! {
    /// The export worker, started on the first export.
    static WORKER: std::cell::RefCell<Option<web_sys::Worker>> = const { std::cell::RefCell::new(None) };
}

fn worker() -> Result<web_sys::Worker, String> {
    WORKER.with(|w| {
        if let Some(worker) = w.borrow().as_ref() {
            return Ok(worker.clone());
        }
        let worker = web_sys::Worker::new("/official-worker.js")
            .map_err(|_| t!("official.no_worker").to_string())?;
        *w.borrow_mut() = Some(worker.clone());
        Ok(worker)
    })
}

/// The DOCX file's bytes, from the worker.
async fn docx(document: &OfficialDocument) -> Result<js_sys::Uint8Array, String> {
    let json = serde_json::to_string(document).map_err(|e| e.to_string())?;
    let worker = worker()?;
    let answer = js_sys::Promise::new(&mut |resolve, reject| {
        let done = Closure::once_into_js(move |event: web_sys::MessageEvent| {
            let _ = resolve.call1(&JsValue::NULL, &event.data());
        });
        let failed = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = reject.call0(&JsValue::NULL);
        });
        worker.set_onmessage(Some(done.unchecked_ref()));
        worker.set_onerror(Some(failed.unchecked_ref()));
    });
    worker
        .post_message(&JsValue::from_str(&json))
        .map_err(|_| t!("official.no_worker").to_string())?;
    let data = JsFuture::from(answer).await.map_err(|_| {
        // A worker that failed to load is started afresh next time.
        WORKER.with(|w| w.borrow_mut().take());
        t!("official.no_worker").to_string()
    })?;
    let get = |key: &str| js_sys::Reflect::get(&data, &JsValue::from_str(key)).ok();
    if let Some(error) = get("error").and_then(|e| e.as_string()) {
        return Err(t!("official.failed", error = error).to_string());
    }
    get("bytes")
        .and_then(|b| b.dyn_into::<js_sys::Uint8Array>().ok())
        .ok_or_else(|| t!("official.failed", error = "no file").to_string())
}

/// Offers `bytes` to the person as a file named `name`.
fn download(bytes: &js_sys::Uint8Array, name: &str) -> Result<(), String> {
    let failed = || t!("official.failed", error = "download").to_string();
    let parts = js_sys::Array::of1(bytes);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|_| failed())?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| failed())?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(failed)?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| failed())?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // Revoked later, once the browser has started the download.
    let _ = free_later(url);
    Ok(())
}

/// Frees an object URL after a minute.
fn free_later(url: String) -> Result<(), JsValue> {
    let free = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    web_sys::window()
        .ok_or(JsValue::NULL)?
        .set_timeout_with_callback_and_timeout_and_arguments_0(free.unchecked_ref(), 60_000)
        .map(|_| ())
}

/// A field of the official document, following the report document live;
/// a change is written when the person leaves the field.
#[component]
fn OfficialField(doc: DocId, field: &'static str, readonly: Signal<bool>) -> impl IntoView {
    let value = follow(doc, move |d| {
        Some(official::field(d, field).unwrap_or_default())
    });
    let id = format!("official-{field}");
    let label = t!(format!("official.{field}")).to_string();
    let hint = t!(format!("official.{field}_hint")).to_string();
    let save = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        repo().change(doc, |d| {
            official::set_field(d, field, &text);
        });
    };
    let input = if field == "recipients" {
        view! {
            <textarea id=id.clone() class="official-field" data-field=field rows="3" placeholder=hint
                disabled=move || readonly.get() prop:value=move || value.get().unwrap_or_default()
                on:change=save></textarea>
        }
        .into_any()
    } else {
        view! {
            <input id=id.clone() class="official-field" data-field=field placeholder=hint
                disabled=move || readonly.get() prop:value=move || value.get().unwrap_or_default()
                on:change=save/>
        }
        .into_any()
    };
    view! { <label for=id>{label}</label> {input} }
}

/// The official document of a report: its fields, the DOCX export and the
/// print view.
#[component]
pub fn OfficialPanel(
    doc: DocId,
    plan: DocId,
    /// The file's name, without extension.
    file_name: String,
    names: LocalResource<Vec<(String, String)>>,
    readonly: Signal<bool>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let message = RwSignal::new(None::<Result<String, String>>);
    let printing = RwSignal::new(None::<OfficialDocument>);
    let names_now = move || names.get().unwrap_or_default();
    let export = move |_| {
        if busy.get_untracked() {
            return;
        }
        let document = match build(doc, plan, &names_now()) {
            Ok(d) => d,
            Err(e) => return message.set(Some(Err(e))),
        };
        busy.set(true);
        message.set(None);
        let name = format!("{file_name}.docx");
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = docx(&document)
                .await
                .and_then(|bytes| download(&bytes, &name));
            busy.set(false);
            message.set(Some(outcome.map(|()| {
                let removed = document.unfit_characters();
                if removed == 0 {
                    t!("official.done").to_string()
                } else {
                    t!("official.done_removed", n = removed).to_string()
                }
            })));
        });
    };
    let print_view = move |_| match build(doc, plan, &names_now()) {
        Ok(d) => printing.set(Some(d)),
        Err(e) => message.set(Some(Err(e))),
    };
    view! {
        <details class="official">
            <summary>{t!("official.title").to_string()}</summary>
            <div class="official-fields">
                {FIELDS.into_iter().map(|field| view! { <OfficialField doc field readonly/> }).collect_view()}
            </div>
            <div class="actions">
                <button type="button" class="export-docx" disabled=move || busy.get() on:click=export>
                    {move || if busy.get() { t!("official.exporting").to_string() } else { t!("official.export").to_string() }}
                </button>
                <button type="button" class="print-view" on:click=print_view>{t!("official.print_view").to_string()}</button>
            </div>
            {move || message.get().map(|m| match m {
                Ok(done) => view! { <p class="notice" role="status">{done}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
        </details>
        {move || printing.get().map(|d| view! {
            <div class="print-sheet" role="dialog" aria-label=t!("official.print_view").to_string()>
                <div class="print-actions">
                    <button type="button" class="print-now" on:click=|_| {
                        if let Some(w) = web_sys::window() {
                            let _ = w.print();
                        }
                    }>{t!("official.print").to_string()}</button>
                    <button type="button" class="print-close" on:click=move |_| printing.set(None)>
                        {t!("official.close").to_string()}
                    </button>
                </div>
                <PrintedDocument document=d/>
            </div>
        })}
    }
}

/// The official document laid out as the DOCX file is, for printing.
#[component]
fn PrintedDocument(document: OfficialDocument) -> impl IntoView {
    let lines = |text: &str| {
        text.lines()
            .map(|l| view! { <p>{l.to_string()}</p> })
            .collect_view()
    };
    view! {
        <article class="official-document">
            <table class="official-heading">
                <tr>
                    <td>
                        <p>{document.parent_issuer.to_uppercase()}</p>
                        <p class="strong">{document.issuer.to_uppercase()}</p>
                        <hr/>
                        <p>{document.number_line()}</p>
                    </td>
                    <td>
                        <p class="strong national">{NATIONAL_TITLE}</p>
                        <p class="strong motto">{MOTTO}</p>
                        <p class="date">{document.place_and_date()}</p>
                    </td>
                </tr>
            </table>
            <h1 class="kind">{document.kind.to_uppercase()}</h1>
            <p class="summary">{document.summary.clone()}</p>
            <hr class="short"/>
            <div class="official-body">
                {lines(&document.opening)}
                {document.sections.iter().map(|s| view! {
                    <p class="strong">{s.heading.clone()}</p>
                    {s.items.iter().map(|i| view! {
                        <p><span class="strong">{format!("{}. ", i.number)}</span>{i.text.clone()}</p>
                        <p><em>"Tình trạng: "</em>{i.status.clone()}</p>
                        {lines(&i.notes)}
                    }).collect_view()}
                    {s.texts.iter().filter(|t| !t.text.trim().is_empty()).map(|t| view! {
                        <p><span class="strong">{format!("{}: ", t.label)}</span></p>
                        {lines(&t.text)}
                    }).collect_view()}
                }).collect_view()}
            </div>
            <table class="official-ending">
                <tr>
                    <td class="recipients">
                        <p class="strong"><em>"Nơi nhận:"</em></p>
                        {document.recipients.iter().map(|r| view! { <p>{r.clone()}</p> }).collect_view()}
                    </td>
                    <td class="signer">
                        <p class="strong">{document.signer_position.to_uppercase()}</p>
                        <p class="signature-space"></p>
                        <p class="strong">{document.signer_name.clone()}</p>
                    </td>
                </tr>
            </table>
        </article>
    }
}
