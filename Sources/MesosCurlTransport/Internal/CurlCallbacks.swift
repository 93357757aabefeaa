/// The C callbacks libcurl calls on the engine thread. Each finds its ``CurlTransfer`` through the user-data
/// pointer the easy handle was given (unretained: the engine keeps the transfer alive while curl knows it).

/// `CURLOPT_WRITEFUNCTION`: a piece of the response body.
func curlWriteCallback(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let userData else {
        return 0
    }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userData).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

/// `CURLOPT_HEADERFUNCTION`: one line of the response head.
func curlHeaderCallback(
    _ data: UnsafeMutablePointer<CChar>?,
    _ size: Int,
    _ count: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let userData else {
        return 0
    }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userData).takeUnretainedValue()
    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
}
