//! Small form controls that several pages share.

use leptos::prelude::*;

/// A labelled one-line text input bound to `value`.
#[component]
pub fn TextInput(id: &'static str, label: String, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id required prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
    }
}

/// A labelled short text (a reason, a note) bound to `value`.
#[component]
pub fn NoteField(class: &'static str, label: String, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field">
            <span class="field-label">{label}</span>
            <textarea class=class rows="2" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        </label>
    }
}

/// A button that is off while `busy`.
#[component]
pub fn BusyButton(
    class: &'static str,
    label: String,
    busy: RwSignal<bool>,
    on_press: Callback<()>,
) -> impl IntoView {
    view! {
        <button type="button" class=class disabled=move || busy.get() on:click=move |_| on_press.run(())>
            {label}
        </button>
    }
}

/// A labelled choice among `choices` (value, key, words), bound to `value`.
#[component]
pub fn Choice<T>(
    id: &'static str,
    label: String,
    value: RwSignal<T>,
    choices: Vec<(T, &'static str, String)>,
) -> impl IntoView
where
    T: Copy + PartialEq + Send + Sync + 'static,
{
    let keys: Vec<(T, &'static str)> = choices.iter().map(|(v, k, _)| (*v, *k)).collect();
    let chosen = value.get_untracked();
    view! {
        <label for=id>{label}</label>
        <select id=id on:change=move |ev| {
            let key = event_target_value(&ev);
            if let Some((v, _)) = keys.iter().find(|(_, k)| *k == key) {
                value.set(*v);
            }
        }>
            {choices.into_iter().map(|(v, key, words)| view! {
                <option value=key selected=v == chosen>{words}</option>
            }).collect_view()}
        </select>
    }
}
