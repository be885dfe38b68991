"""PSNR/SSIM against scikit-image and a hand computation; paired data, degradations and bad input."""
import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from convzoo.tasks.restoration import degradations as deg
from convzoo.tasks.restoration.data import AddHaze, LoadImagePair, PairedImageDataset, PairError, read_rgb_float
from convzoo.tasks.restoration.metrics import psnr, ssim


@pytest.fixture(scope='module')
def image_pair():
    rng = np.random.default_rng(0)
    gt = cv2.GaussianBlur(rng.integers(0, 256, (40, 48, 3)).astype(np.uint8), (5, 5), 2)
    noisy = np.clip(gt.astype(np.int16) + rng.integers(-20, 21, gt.shape), 0, 255).astype(np.uint8)
    return noisy, gt


def test_rgb_psnr_and_ssim_agree_with_scikit_image(image_pair):
    pred, gt = image_pair
    assert psnr(pred, gt) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=255), abs=1e-9)
    expected = structural_similarity(gt, pred, data_range=255, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(pred, gt) == pytest.approx(expected, abs=1e-6)


def test_y_channel_psnr_with_border_crop_matches_a_hand_computation(image_pair):
    pred, gt = image_pair
    border = 3

    def y_of(img):  # ITU-R BT.601, per pixel, written out
        out = np.zeros(img.shape[:2])
        for i in range(img.shape[0]):
            for j in range(img.shape[1]):
                r, g, b = (float(v) / 255 for v in img[i, j])
                out[i, j] = 16 + 65.481 * r + 128.553 * g + 24.966 * b
        return out[border:-border, border:-border]

    mse = np.mean((y_of(pred) - y_of(gt)) ** 2)
    assert psnr(pred, gt, crop_border=border, convert_to='y') == pytest.approx(10 * np.log10(255 ** 2 / mse))
    y_pred, y_gt = y_of(pred), y_of(gt)
    expected = structural_similarity(y_gt, y_pred, data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(pred, gt, crop_border=border, convert_to='y') == pytest.approx(expected, abs=1e-6)


def test_degradations():
    img = np.random.default_rng(1).random((31, 44, 3)).astype(np.float32)
    assert deg.bicubic_downscale(img, 3).shape == (10, 14, 3)
    assert deg.blur_downscale(img, 4).shape == (7, 11, 3)
    flat = np.full((12, 12, 3), 0.5, np.float32)
    assert np.allclose(deg.bicubic_downscale(flat, 2), 0.5, atol=1e-6)  # a constant stays constant
    a = deg.add_gaussian_noise(flat, 25, np.random.default_rng([7, 1]))
    b = deg.add_gaussian_noise(flat, 25, np.random.default_rng([7, 1]))
    assert np.array_equal(a, b) and abs((a - flat).std() * 255 - 25) < 3
    depth = np.linspace(0, 1, 12, dtype=np.float32)[None].repeat(12, 0)
    hazy = deg.add_haze(flat * 0.2, depth, beta=1.0, airlight=0.9)
    t = np.exp(-depth)[..., None]
    assert np.allclose(hazy, 0.1 * t + 0.9 * (1 - t), atol=1e-6)
    disparity = np.array([[2.0, np.inf], [4.0, 0.0]], np.float32)
    assert np.allclose(deg.depth_from_disparity(disparity), [[1.0, 1.0], [0.5, 0.5]])  # nearest valid fills


def test_haze_follows_the_atmospheric_scattering_model():
    clear = np.random.default_rng(2).random((6, 8, 3)).astype(np.float32)
    haze = AddHaze(beta=0.7, airlight=0.85, depth='map')

    def hazy(depth):
        return haze(dict(gt=clear, depth=np.asarray(depth, np.float32), name='x', gt_path='x.png'))['lq']

    assert np.array_equal(hazy(np.zeros((6, 8))), clear)  # d = 0: t = 1, the clear image exactly
    assert np.allclose(hazy(np.full((6, 8), 40.0)), 0.85, atol=1e-6)  # beta d large: t -> 0, the airlight
    depth = np.linspace(0, 2, 48).reshape(6, 8)
    out = hazy(depth)
    t = np.exp(-0.7 * depth[2, 5])  # one pixel by hand: I = J t + A (1 - t)
    assert out[2, 5, 1] == pytest.approx(clear[2, 5, 1] * t + 0.85 * (1 - t), abs=1e-6)
    with pytest.raises(PairError, match='x.png.*depth map'):
        haze(dict(gt=clear, name='x', gt_path='x.png'))
    with pytest.raises(PairError, match='does not match'):
        hazy(np.zeros((5, 8)))


def _transmission(clear, hazy, airlight):
    """Per-pixel transmission of ``hazy = clear t + A (1 - t)``, the same in R, G and B: read from the channel
    whose clear value is farthest from the airlight (a channel equal to the airlight carries no information: 0/0)."""
    offset = clear - airlight
    channel = np.abs(offset).argmax(2)[..., None]
    return np.take_along_axis(hazy - airlight, channel, 2)[..., 0] / np.take_along_axis(offset, channel, 2)[..., 0]


def test_random_haze_draws_in_range_and_a_seed_fixes_it_per_image():
    clear = np.random.default_rng(3).random((40, 50, 3)).astype(np.float32)
    haze = AddHaze(beta=(0.5, 2.0), airlight=(0.7, 1.0), near=(0.1, 0.3), far=(0.6, 1.0))
    for _ in range(5):
        out = haze(dict(gt=clear, name='a', gt_path='a.png'))
        beta, airlight = out['haze_beta'], out['haze_airlight']
        assert 0.5 <= beta <= 2.0 and 0.7 <= airlight <= 1.0
        d = -np.log(_transmission(clear, out['lq'], airlight)) / beta
        assert 0.1 - 1e-3 <= d.min() and d.max() <= 1.0 + 1e-3 and d.max() - d.min() > 0.2
    np.random.seed(11)  # training draws follow NumPy's global generator, which mmengine seeds
    first = haze(dict(gt=clear, name='a', gt_path='a.png'))['lq']
    np.random.seed(11)
    assert np.array_equal(haze(dict(gt=clear, name='a', gt_path='a.png'))['lq'], first)
    fixed = AddHaze(seed=5)
    a = fixed(dict(gt=clear, name='a', gt_path='a.png'))['lq']
    fixed(dict(gt=clear, name='b', gt_path='b.png'))
    assert np.array_equal(fixed(dict(gt=clear, name='a', gt_path='a.png'))['lq'], a)
    assert not np.array_equal(fixed(dict(gt=clear, name='b', gt_path='b.png'))['lq'], a)
    depth = deg.random_depth((30, 20), np.random.default_rng(0), near=(0.2, 0.2), far=(0.9, 0.9))
    assert depth.shape == (30, 20) and depth.min() == pytest.approx(0.2, abs=1e-5) and depth.max() <= 0.9 + 1e-5


def test_random_inverse_depth_is_linear_in_disparity_and_mostly_near():
    linear = deg.random_depth((48, 40), np.random.default_rng(7), near=(0.0, 0.0), far=(1.0, 1.0))
    inverse = deg.random_inverse_depth((48, 40), np.random.default_rng(7), disparity_ratio=(4.0, 4.0))
    # the same layout, mapped to disparity in [1, 4] and inverted: depth in [1/4, 1]
    assert np.allclose(1 / inverse, 4 - 3 * linear, atol=1e-4)
    assert inverse.min() == pytest.approx(0.25, abs=1e-4) and inverse.max() == pytest.approx(1.0, abs=1e-4)
    # most pixels lie nearer than halfway between the nearest and the farthest point
    assert np.median(inverse) < np.median(0.25 + 0.75 * linear)
    clear = np.random.default_rng(3).random((40, 50, 3)).astype(np.float32)
    out = AddHaze(beta=1.0, airlight=0.9, depth='random_inverse', disparity_ratio=(5.0, 5.0))(
        dict(gt=clear, name='a', gt_path='a.png'))
    depth = -np.log(_transmission(clear, out['lq'], 0.9))
    assert 0.2 - 1e-2 <= depth.min() and depth.max() <= 1.0 + 1e-2
    with pytest.raises(ValueError, match='random_inverse'):
        AddHaze(depth='inverse')

def test_gt_only_dataset_with_depth_maps_hazes_from_the_map(tmp_path):
    _write(tmp_path / 'clear/scene.png', np.full((8, 12, 3), 40, np.uint8))
    (tmp_path / 'depth').mkdir()
    np.save(tmp_path / 'depth/scene.npy', np.full((8, 12), 0.5, np.float32))
    dataset = PairedImageDataset(str(tmp_path), gt_folder='clear', depth_folder='depth', pipeline=[
        dict(type='LoadImagePair'), dict(type='AddHaze', beta=1.0, airlight=0.9, depth='map')])
    lq = dataset[0]['lq']
    t = np.exp(-0.5)
    assert np.allclose(lq, 40 / 255 * t + 0.9 * (1 - t), atol=1e-6)
    (tmp_path / 'depth/scene.npy').rename(tmp_path / 'depth/other.npy')
    with pytest.raises(PairError, match='scene.png: its depth map'):
        PairedImageDataset(str(tmp_path), gt_folder='clear', depth_folder='depth', pipeline=[])


def test_embedded_dehaze_set_holds_the_stereo_photo_out_and_hazes_it_by_its_real_depth():
    from convzoo.core.embedded import ensure_embedded
    from convzoo.tasks.restoration.embedded_data import TEST_HAZE
    root = ensure_embedded('dehaze_photos')
    train = {p.stem.split('_')[0] for p in (root / 'train').rglob('*.png')}
    assert 'stereo-motorcycle' not in train and len(train) >= 10
    # the other dependencies' real colour photos
    assert {'grace-hopper', 'voc-cafeteria', 'arc2017-bin', 'sklearn-china', 'sklearn-flower'} <= train
    clear, _ = read_rgb_float(str(root / 'test/gt/stereo-motorcycle.png'))
    depth = np.load(root / 'test/depth/stereo-motorcycle.npy')
    for k, (beta, airlight) in enumerate(TEST_HAZE):
        hazy, _ = read_rgb_float(str(root / f'test/hazy/stereo-motorcycle_{k}.png'))
        # made from the unquantised photo: at most half a level from quantising each file apart
        assert np.abs(hazy - deg.add_haze(clear, depth, beta, airlight)).max() <= 1 / 255 + 1e-6


def _write(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def test_gray_rgba_and_16_bit_images_are_converted(tmp_path):
    gray = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    _write(tmp_path / 'g.png', gray)
    _write(tmp_path / 'a.png', np.dstack([gray, gray // 2, gray // 3, np.full_like(gray, 7)]))
    _write(tmp_path / 'w.png', (gray.astype(np.uint16) * 257)[..., None].repeat(3, 2))
    img, notes = read_rgb_float(str(tmp_path / 'g.png'))
    assert img.shape == (20, 30, 3) and 'grayscale to RGB' in notes
    img, notes = read_rgb_float(str(tmp_path / 'a.png'))
    assert 'alpha channel dropped' in notes and np.allclose(img[..., 0] * 255, gray // 3)  # BGR(A) -> RGB
    img, notes = read_rgb_float(str(tmp_path / 'w.png'))
    assert '16-bit' in notes and np.allclose(img[..., 1] * 255, gray, atol=1e-3)


def test_pairs_are_matched_by_name_and_bad_pairs_name_the_file(tmp_path):
    img = np.zeros((24, 30, 3), np.uint8)
    _write(tmp_path / 'gt/a.png', img)
    _write(tmp_path / 'gt/b.png', img)
    _write(tmp_path / 'lq/a.png', img[:8, :10])
    with pytest.raises(PairError, match=r'b\.png: its LQ image b\.\* is missing'):
        PairedImageDataset(data_root=str(tmp_path), gt_folder='gt', lq_folder='lq', scale=3)
    _write(tmp_path / 'lq/b.png', img[:8, :9])
    ds = PairedImageDataset(data_root=str(tmp_path), gt_folder='gt', lq_folder='lq', scale=3)
    assert [d['name'] for d in ds] == ['a', 'b']
    with pytest.raises(PairError, match=r'b\.png \(30x24\) and .*b\.png \(9x8\) do not pair at scale 3'):
        LoadImagePair()(dict(ds.get_data_info(1)))
    # a GT up to scale - 1 pixels too large is cropped to scale x LQ (the usual convention), not refused
    _write(tmp_path / 'gt/a.png', np.zeros((26, 32, 3), np.uint8))
    assert LoadImagePair()(dict(ds.get_data_info(0)))['gt'].shape == (24, 30, 3)
    _write(tmp_path / 'lq/c.png', img)
    with pytest.raises(PairError, match=r'c\.png: LQ image without a GT image'):
        PairedImageDataset(data_root=str(tmp_path), gt_folder='gt', lq_folder='lq', scale=3)


def test_reside_style_names_pair_many_hazy_images_with_one_clear_image(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    _write(tmp_path / 'clear/1.png', img)
    for name in ('1_1_0.9.png', '1_2_0.8.png'):
        _write(tmp_path / 'hazy' / name, img)
    ds = PairedImageDataset(data_root=str(tmp_path), gt_folder='clear', lq_folder='hazy', match='prefix')
    assert len(ds) == 2 and all(d['gt_path'].endswith('clear/1.png') for d in ds)
    _write(tmp_path / 'hazy/2_1_0.9.png', img)
    with pytest.raises(PairError, match=r'2_1_0\.9\.png: no GT image 2\.\*'):
        PairedImageDataset(data_root=str(tmp_path), gt_folder='clear', lq_folder='hazy', match='prefix')


def test_fixed_seed_noise_depends_on_the_image_not_on_the_order():
    from convzoo.tasks.restoration.data import AddGaussianNoise
    gt = np.full((8, 8, 3), 0.5, np.float32)
    noise = AddGaussianNoise(25, seed=3)
    a = noise(dict(gt=gt, name='x'))['lq']
    noise(dict(gt=gt, name='y'))
    assert np.array_equal(a, noise(dict(gt=gt, name='x'))['lq'])
    assert not np.array_equal(a, noise(dict(gt=gt, name='y'))['lq'])


def test_paired_crop_and_dihedral_keep_lq_and_gt_aligned():
    from convzoo.tasks.restoration.data import PairedRandomCrop, PairedRandomDihedral
    gt = np.random.default_rng(2).random((30, 36, 3)).astype(np.float32)
    lq = gt[1::3, 1::3]  # each LQ pixel is the centre of its 3x3 GT cell
    for _ in range(10):
        out = PairedRandomDihedral()(PairedRandomCrop(12)(dict(gt=gt, lq=lq, scale=3)))
        assert out['lq'].shape == (4, 4, 3) and out['gt'].shape == (12, 12, 3)
        assert np.array_equal(out['gt'][1::3, 1::3], out['lq'])


def test_crop_before_on_the_fly_haze_equals_haze_then_crop():
    """GT-only crop (degradation after it): the depth map is cropped with the GT, so hazing the crop gives exactly
    the crop of the hazed image."""
    from convzoo.tasks.restoration.data import AddHaze, PairedRandomCrop
    rng = np.random.default_rng(4)
    gt, depth = rng.random((30, 36, 3)).astype(np.float32), rng.random((30, 36)).astype(np.float32)
    # a fixed haze seed: its draws then leave NumPy's global generator, and with it the crop position, alone
    haze = AddHaze(beta=1.3, airlight=0.9, depth='map', seed=0)
    np.random.seed(11)
    crop_first = haze(PairedRandomCrop(16)(dict(gt=gt, depth=depth, name='x', gt_path='x.png')))
    np.random.seed(11)
    haze_first = PairedRandomCrop(16)(haze(dict(gt=gt, depth=depth, name='x', gt_path='x.png')))
    assert crop_first['gt'].shape == (16, 16, 3) and crop_first['lq'].shape == (16, 16, 3)
    assert np.array_equal(crop_first['gt'], haze_first['gt'])
    np.testing.assert_allclose(crop_first['lq'], haze_first['lq'], atol=1e-6)


def test_preprocessor_pads_odd_sizes_and_the_model_crops_back():
    from mmengine.registry import init_default_scope

    from convzoo.core.registry import MODELS
    init_default_scope('convzoo')
    model = MODELS.build(dict(type='RestorationModel', generator=dict(type='MIRNet', n_feat=8, n_rrg=1, n_mrb=1),
                              data_preprocessor=dict(type='RestorationDataPreprocessor', pad_size_divisor=4)))
    inputs = [torch.randint(0, 256, (3, 13, 18), dtype=torch.uint8), torch.randint(0, 256, (3, 10, 7)).byte()]
    data = model.data_preprocessor(dict(inputs=inputs), False)
    assert data['inputs'].shape == (2, 3, 16, 20) and data['inputs'].max() <= 1
    samples = model.predict(data['inputs'], data['data_samples'])
    assert [tuple(s.pred_img.shape) for s in samples] == [(3, 13, 18), (3, 10, 7)]
    # tensor mode pads an odd size for the network itself and crops back
    assert model(inputs[0][None].float() / 255).shape == (1, 3, 13, 18)
