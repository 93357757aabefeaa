// The `mesos` operator tool; its commands are being built (issue 15).
print("mesos: no commands yet")
