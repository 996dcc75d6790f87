"""benchmarks/prior_fit.py: the best-of-K error and the two-cluster test on hand-made samples, and the
false-alarm rate of the test on one Gaussian."""

import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import prior_fit  # noqa: E402


def test_best_of_k_is_the_distance_to_the_nearest_of_the_first_k_samples():
    samples = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [0.5, 0.4]]])  # one state, three samples of a 2-D action
    action = torch.tensor([[0.6, 0.6]])
    # squared distances, mean over the 2 dims: 0.36, 0.16, (0.01 + 0.04) / 2 = 0.025
    assert prior_fit.best_of_k(samples, action, 1).item() == torch.tensor(0.36).item()
    assert abs(prior_fit.best_of_k(samples, action, 2).item() - 0.16) < 1e-6
    assert abs(prior_fit.best_of_k(samples, action, 3).item() - 0.025) < 1e-6


def test_two_clusters_tells_two_separated_modes_from_one_and_from_outliers():
    g = torch.Generator().manual_seed(0)
    n = 32
    one = 0.1 * torch.randn(1, n, 2, generator=g)  # one mode
    two = torch.cat([0.05 * torch.randn(1, 20, 2, generator=g) + torch.tensor([0.5, 0.0]),
                     0.05 * torch.randn(1, 12, 2, generator=g) - torch.tensor([0.5, 0.0])], 1)  # 20 / 12, far apart
    outlier = torch.cat([0.05 * torch.randn(1, 30, 2, generator=g), torch.tensor([[[0.9, 0.9], [0.95, 0.9]]])], 1)  # 2 of 32
    close = torch.cat([0.2 * torch.randn(1, 16, 2, generator=g) + 0.1, 0.2 * torch.randn(1, 16, 2, generator=g) - 0.1], 1)
    found = prior_fit.two_clusters(torch.cat([one, two, outlier, close]))
    assert found.tolist() == [False, True, False, False]


def test_two_clusters_rarely_sees_two_in_one_gaussian_and_sees_two_separated_ones():
    torch.manual_seed(0)
    assert prior_fit.two_clusters(torch.randn(2000, 32, 1)).float().mean() < 0.05  # one mode: few false alarms
    assert prior_fit.two_clusters(torch.randn(2000, 32, 6)).float().mean() < 0.01
    apart = torch.randn(2000, 32, 3)
    apart[:, :12, 1] += 6.0  # 12 of 32 samples six standard deviations away along one axis
    assert prior_fit.two_clusters(apart).float().mean() > 0.95
