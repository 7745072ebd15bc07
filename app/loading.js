// How much of the app has arrived, in the page's frame (index.html), while
// the wasm downloads: on a slow phone that takes many seconds. Trunk calls
// these as it fetches and starts the wasm (`data-initializer`).
export default function loading() {
    // A page the service worker controls has the app on the device: it
    // starts in a moment, and the plain start (no initializer) is quicker.
    if (navigator.serviceWorker && navigator.serviceWorker.controller) return undefined;
    let shown = -1;
    return {
        onStart: () => {
            const line = document.getElementById("early-loading");
            if (line) line.hidden = false;
        },
        onProgress: ({ current, total }) => {
            const bar = document.getElementById("early-progress");
            if (!bar || !total) return;
            const percent = Math.min(100, Math.floor((current * 100) / total));
            if (percent === shown) return;
            shown = percent;
            bar.value = percent;
            document.getElementById("early-percent").textContent = percent + "%";
        },
        // A failure to fetch or start the app is told by the frame itself
        // (its "error" and "unhandledrejection" listeners); Trunk hands it
        // here instead, so it is raised again for them.
        onFailure: (error) => {
            setTimeout(() => { throw error; });
        },
    };
}
