"""The pure core: what Ebb decides, computed from plain values.

What belongs here: ScaledObject and TriggerAuthentication values and their validation (`specs`,
`validating`, `problems`, `auth_resolution`, `container_env`), KEDA's scale-loop decision table
(`decisions`), the Kubernetes HPA algorithm for External metrics (`hpa`) and the HPA Ebb builds
(`hpa_manifests`), scalingModifiers formulas (`formulas`), quantities, load traces and the simulator that
replays them through the same code (`traces`, `simulation`), and the parsing of manifests (`manifests`).

What must not: a network, a clock or an event loop. `now` is always a parameter; nothing here imports
asyncio, aiohttp, kopf, the Kubernetes client, a broker client or a scaler (import-linter fails if one
does). The only input read from outside is the YAML a user names to `manifests.read`. Everything else in
`scaler` is built on this package, and it imports nothing else of Ebb's.
"""
