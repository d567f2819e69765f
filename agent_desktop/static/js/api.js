// Requests to the desk: errors come back as {error: {code, message, details}} and are thrown as ApiError.
// The body goes as JSON, or as it is when `contentType` is given (a CSV file to import).
export class ApiError extends Error {
  constructor(code, message, details, status) {
    super(message || code);
    this.code = code;
    this.details = details || {};
    this.status = status;
  }
}

export async function api(method, path, body, { timeoutMs = 15000, base = "", contentType = null } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": contentType || "application/json" },
      body: body === undefined || contentType ? body : JSON.stringify(body),
      credentials: base ? "omit" : "same-origin",
      signal: controller.signal,
    });
  } catch (e) {
    throw new ApiError(base ? "bridge_unavailable" : "network", String(e));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error || { code: "internal", message: `HTTP ${response.status}` };
    throw new ApiError(error.code, error.message, error.details, response.status);
  }
  return data;
}

// For what a page cannot start without (the desk's /api/me): refused for its session's pace (`rate_limited`,
// details.limit "session"), it waits the Retry-After the desk gave and asks again, up to `tries` times, instead of
// leaving the page blank. Any other error is thrown at once.
export async function apiPatient(method, path, body, options = {}, tries = 5) {
  for (let i = 1; ; i++) {
    try {
      return await api(method, path, body, options);
    } catch (e) {
      if (i >= tries || e.code !== "rate_limited" || e.details.limit !== "session") throw e;
      await new Promise((resolve) => setTimeout(resolve, 1000 * (e.details.retry_after_s || 1)));
    }
  }
}
