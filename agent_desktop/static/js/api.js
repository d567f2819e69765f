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
