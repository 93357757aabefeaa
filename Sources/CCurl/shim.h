#ifndef SWIFT_MESOS_CCURL_SHIM_H
#define SWIFT_MESOS_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: typed wrappers follow.

static inline CURLcode swift_mesos_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode swift_mesos_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode swift_mesos_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode swift_mesos_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode swift_mesos_curl_setopt_write_callback(
    CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode swift_mesos_curl_setopt_header_callback(
    CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

static inline CURLcode swift_mesos_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode swift_mesos_curl_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode swift_mesos_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

// Macros built from other macros do not reach Swift: small functions follow.

/// `curl_global_init(CURL_GLOBAL_DEFAULT)`.
static inline CURLcode swift_mesos_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

/// Resumes a transfer paused by returning `CURL_WRITEFUNC_PAUSE` from the write callback.
static inline CURLcode swift_mesos_curl_unpause(CURL *handle) {
    return curl_easy_pause(handle, CURLPAUSE_CONT);
}

/// The value the write callback returns to pause a transfer.
static inline size_t swift_mesos_curl_writefunc_pause(void) {
    return CURL_WRITEFUNC_PAUSE;
}

/// The size of the buffer `CURLOPT_ERRORBUFFER` needs.
static inline size_t swift_mesos_curl_error_size(void) {
    return CURL_ERROR_SIZE;
}

/// Limits a handle to HTTP and HTTPS, for requests and for (unfollowed) redirects.
static inline CURLcode swift_mesos_curl_restrict_to_http(CURL *handle) {
#if LIBCURL_VERSION_NUM >= 0x075500
    CURLcode code = curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    if (code != CURLE_OK) {
        return code;
    }
    return curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    CURLcode code = curl_easy_setopt(handle, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (code != CURLE_OK) {
        return code;
    }
    return curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/// The result code of a `CURLMSG_DONE` message (a union member in C).
static inline CURLcode swift_mesos_curl_msg_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
