// @ts-check
// One file's upload: a multipart POST with the CSRF token, through
// XMLHttpRequest because it reports upload progress (fetch does not, yet).
// Returns {promise, abort}: the promise resolves to {status, body} for any
// answer and rejects when the server could not be reached or it was aborted.

import { csrfToken } from "./api.js";

/**
 * @param {number | null} conversationId
 * @param {File} file
 * @param {{ onProgress?: (loaded: number) => void }} [options]
 * @returns {{ promise: Promise<{ status: number, body: any }>, abort: () => void }}
 */
export function uploadFile(conversationId, file, { onProgress = () => {} } = {}) {
  const xhr = new XMLHttpRequest();
  /** @type {Promise<{ status: number, body: any }>} */
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", `/messages/api/conversations/${conversationId}/attachments`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.response }));
    xhr.addEventListener("error", () => reject(new TypeError("the upload could not reach the server")));
    xhr.addEventListener("abort", () => {
      const error = new Error("upload cancelled");
      error.name = "AbortError";
      reject(error);
    });
    const form = new FormData();
    form.append("file", file, file.name || "pasted-image");
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
