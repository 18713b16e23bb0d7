"""Temperature scaling (Guo et al. 2017): one scalar T fitted on validation logits by minimising NLL."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    logp = _log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    return float(-logp[np.arange(len(labels)), np.asarray(labels, dtype=int)].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising validation NLL (1.0 when there is nothing to fit)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if logits.size == 0 or len(np.unique(labels)) < 2:
        return 1.0
    result = minimize_scalar(lambda log_t: nll(logits, labels, float(np.exp(log_t))),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def bootstrap_temperature_interval(logits: np.ndarray, labels: np.ndarray, rounds: int = 200,
                                   seed: int = 0) -> tuple[float, float]:
    """95% interval of the fitted temperature over bootstrap resamples of the films it was fitted on. A nearly
    separable validation split leaves the temperature to its few confidently wrong films, so it is far less certain
    than its 522 films suggest, and so is every rate at a threshold on the calibrated probability."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    rng = np.random.default_rng(seed)
    fits = []
    for _ in range(rounds):
        sample = rng.integers(0, len(labels), len(labels))
        if len(np.unique(labels[sample])) > 1:
            fits.append(fit_temperature(logits[sample], labels[sample]))
    if not fits:
        return (1.0, 1.0)
    return (float(np.percentile(fits, 2.5)), float(np.percentile(fits, 97.5)))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(_log_softmax(np.asarray(logits, dtype=np.float64) / temperature))


def fit_scale_and_bias(log_odds: np.ndarray, is_positive: np.ndarray) -> tuple[float, float]:
    """Platt scaling of a binary model's log-odds: (a, b) minimising validation NLL of sigmoid(a * log_odds + b).

    Temperature scaling is the special case b = 0; the bias is what it cannot fit when the two classes do not sit
    symmetrically about the model's own boundary."""
    from scipy.optimize import minimize

    d = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(is_positive, dtype=np.float64)
    if d.size == 0 or len(np.unique(y)) < 2:
        return 1.0, 0.0

    def loss(params: np.ndarray) -> float:
        z = params[0] * d + params[1]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    result = minimize(loss, np.array([1.0, 0.0]), method="Nelder-Mead",
                      options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000})
    return float(result.x[0]), float(result.x[1])
