//! Who else has a report open, and which text they are in or typing in:
//! `papi::presence` messages, sent and heard through the repository's
//! ephemeral messages while a report is on screen.
//!
//! A screen starts one `Presence` for its document and provides it as
//! context; each text box of that document tells it when it gains or loses
//! the focus and when someone types, and shows who else is there.

use leptos::prelude::*;

use super::i18n::t;
use super::repo::{repo, Ephemeral};
use crate::ids::DocId;
use crate::presence::{Channel, Peers, Presence as Message, State, HEARTBEAT_MS, PEER_TTL_MS};

/// Typing counts as typing until this long after the last keystroke.
const TYPING_FOR_MS: u64 = 3_000;

/// This page's presence in one document.
#[derive(Clone, Copy)]
pub struct Presence {
    pub doc: DocId,
    mine: StoredValue<State>,
    peers: RwSignal<Peers>,
    /// Whether this page is connected: nobody is shown as here while it is
    /// not. One memo, so that the text boxes do not follow every change of
    /// the status bar.
    connected: Memo<bool>,
    /// Unit ids and names, to say who is who.
    units: LocalResource<Vec<(String, String)>>,
    typing_ends: StoredValue<Option<TimeoutHandle>>,
}

impl Presence {
    /// Joins `doc` as `name` of `unit` for as long as the calling view
    /// lives: says so to the others, keeps saying so, and says goodbye when
    /// the view goes or the page is hidden.
    pub fn start(
        doc: DocId,
        name: String,
        unit: String,
        units: LocalResource<Vec<(String, String)>>,
    ) -> Presence {
        let presence = Presence {
            doc,
            mine: StoredValue::new(State {
                name,
                unit,
                field: None,
                typing: false,
            }),
            peers: RwSignal::new(Peers::default()),
            units,
            typing_ends: StoredValue::new(None),
            connected: Memo::new(|_| repo().status.with(|s| s.connected)),
        };
        let listener = move |event: Ephemeral| match event {
            Ephemeral::Joined => presence.send_state(),
            Ephemeral::Message { sender, data } => {
                let Ok(message) = Message::decode(data) else {
                    return;
                };
                let mut new = false;
                presence
                    .peers
                    .update(|p| new = p.receive(sender, message, js_sys::Date::now()));
                // Someone new: they learn who is here at once, not at the
                // next heartbeat.
                if new {
                    presence.send_state();
                }
            }
        };
        repo().listen(doc, std::rc::Rc::new(listener));
        let beat = set_interval_with_handle(
            move || {
                presence.send(Message::Heartbeat);
                let now = js_sys::Date::now();
                presence.peers.maybe_update(|p| p.prune(now, PEER_TTL_MS));
            },
            std::time::Duration::from_millis(HEARTBEAT_MS as u64),
        )
        .ok();
        let hidden = window_event_listener(leptos::ev::pagehide, move |_| {
            presence.send(Message::Goodbye)
        });
        on_cleanup(move || {
            presence.send(Message::Goodbye);
            repo().unlisten(doc);
            if let Some(beat) = beat {
                beat.clear();
            }
            hidden.remove();
            if let Some(t) = presence.typing_ends.get_value() {
                t.clear();
            }
        });
        presence
    }

    fn send(&self, message: Message) {
        repo().broadcast(self.doc, message.encode());
    }

    fn send_state(&self) {
        self.send(Message::Snapshot(self.mine.get_value()));
    }

    /// The text this page is in, or none.
    pub fn focus(&self, field: Option<String>) {
        if self.mine.with_value(|m| m.field == field) {
            return;
        }
        self.mine.update_value(|m| m.field = field.clone());
        self.send(Message::Update(Channel::Field(field)));
        self.set_typing(false);
    }

    /// A keystroke: typing, until a moment without one.
    pub fn typed(&self) {
        self.set_typing(true);
        if let Some(t) = self.typing_ends.get_value() {
            t.clear();
        }
        let presence = *self;
        let ends = set_timeout_with_handle(
            move || presence.set_typing(false),
            std::time::Duration::from_millis(TYPING_FOR_MS),
        )
        .ok();
        self.typing_ends.set_value(ends);
    }

    fn set_typing(&self, typing: bool) {
        if self.mine.with_value(|m| m.typing == typing) {
            return;
        }
        self.mine.update_value(|m| m.typing = typing);
        self.send(Message::Update(Channel::Typing(typing)));
    }

    /// The others here, each once, in order of name.
    pub fn people(&self) -> Vec<State> {
        if !self.connected.get() {
            return Vec::new();
        }
        self.peers.with(Peers::people)
    }

    /// "Name (Unit)".
    fn who(&self, person: &State) -> String {
        let unit = self.units.with(|names| {
            names
                .as_ref()
                .and_then(|names| names.iter().find(|(id, _)| *id == person.unit))
                .map_or_else(|| person.unit.clone(), |(_, n)| n.clone())
        });
        format!("{} ({unit})", person.name)
    }
}

/// Who else has the report open, with their units.
#[component]
pub fn PresenceList(presence: Presence) -> impl IntoView {
    let people = Memo::new(move |_| presence.people());
    move || {
        let people = people.get();
        (!people.is_empty()).then(|| {
            view! {
                <p class="presence-list" role="status">
                    {t!("presence.here").to_string()} ": "
                    {people.into_iter().enumerate().map(|(i, p)| {
                        let who = presence.who(&p);
                        view! {
                            {(i > 0).then_some(", ")}
                            <span class="presence-person" data-typing=p.typing.to_string()>{who}</span>
                        }
                    }).collect_view()}
                </p>
            }
        })
    }
}

/// Who else is in one text, under it: typing, or only there.
#[component]
pub fn PresenceAt(presence: Presence, field: String) -> impl IntoView {
    let here = {
        let field = field.clone();
        Memo::new(move |_| {
            let people = presence.people();
            let at: Vec<&State> = people
                .iter()
                .filter(|p| p.field.as_deref() == Some(field.as_str()))
                .collect();
            let typing: Vec<String> = at
                .iter()
                .filter(|p| p.typing)
                .map(|p| presence.who(p))
                .collect();
            let there: Vec<String> = at
                .iter()
                .filter(|p| !p.typing)
                .map(|p| presence.who(p))
                .collect();
            (typing, there)
        })
    };
    move || {
        let (typing, there) = here.get();
        (!typing.is_empty() || !there.is_empty()).then(|| {
            let field = field.clone();
            view! {
                <p class="presence-at" data-for=field aria-live="polite">
                    {(!typing.is_empty()).then(|| view! {
                        <span class="presence-typing">{t!("presence.typing", names = typing.join(", ")).to_string()}</span>
                    })}
                    {(!there.is_empty()).then(|| view! {
                        <span class="presence-there">{t!("presence.there", names = there.join(", ")).to_string()}</span>
                    })}
                </p>
            }
        })
    }
}
