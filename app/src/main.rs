fn main() {
    console_error_panic_hook::set_once();
    papi::ui::register_service_worker();
    leptos::mount::mount_to_body(papi::ui::App);
}
